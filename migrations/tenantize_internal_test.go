package migrations

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateIdentifierRejectsHostileInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"documents", true},
		{`we"ird`, true},
		{"a; drop table x; --", true},
		{"Mixed Case", true},
		{"ünïcødé", true},
		{strings.Repeat("x", 63), true},
		{strings.Repeat("é", 31), true}, // 62 bytes
		{"", false},
		{strings.Repeat("x", 64), false},
		{strings.Repeat("é", 32), false}, // 64 bytes
		{"a\x00b", false},
		{"\xff", false},
		{"a\xc3", false},
	} {
		err := validateIdentifier("table", tc.name)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.name)
		} else {
			assert.ErrorIs(t, err, ErrInvalidTableName, "%q", tc.name)
		}
	}
}

func TestObjectNameStaysWithinTheIdentifierLimit(t *testing.T) {
	assert.Equal(t, "documents_org_id_idx", objectName("documents", "org_id_idx"))
	long := strings.Repeat("a", 60)
	n1 := objectName(long, "org_id_idx")
	n2 := objectName(long+"b", "org_id_idx")
	assert.LessOrEqual(t, len(n1), 63)
	assert.True(t, strings.HasSuffix(n1, "_org_id_idx"))
	assert.NotEqual(t, n1, n2, "long names that share a prefix still differ")
	multi := strings.Repeat("é", 31)
	n := objectName(multi, "org_id_not_null")
	assert.LessOrEqual(t, len(n), 63)
	assert.True(t, utf8.ValidString(n), "cut on a rune boundary")
}

func TestRenderTenantTableRLS(t *testing.T) {
	up, down, err := RenderTenantTableRLS("public", "documents", false)
	require.NoError(t, err)
	assert.Contains(t, up, `ALTER TABLE "public"."documents" ENABLE ROW LEVEL SECURITY;`)
	assert.Contains(t, up, `CREATE POLICY strangler_tenant_isolation ON "public"."documents" AS PERMISSIVE FOR ALL TO "strangler_app"`)
	assert.Contains(t, up, `AS RESTRICTIVE FOR ALL TO "strangler_app"`)
	assert.Contains(t, up, `pg_has_role(current_user, 'strangler_app', 'MEMBER')`)
	assert.NotContains(t, up, "FORCE", "legacy tables are not forced: the owning legacy app keeps working")
	assert.NotContains(t, up, "{{")
	assert.Contains(t, down, `ALTER TABLE "public"."documents" DISABLE ROW LEVEL SECURITY;`)
	assert.Contains(t, down, "DROP POLICY IF EXISTS strangler_legacy_passthrough")

	up, down, err = RenderTenantTableRLS("public", "documents", true)
	require.NoError(t, err)
	assert.NotContains(t, up, "ENABLE ROW LEVEL SECURITY")
	assert.NotContains(t, up, "passthrough", "existing policies keep governing the legacy roles")
	assert.NotContains(t, down, "DISABLE ROW LEVEL SECURITY")
}

// FuzzRenderTenantTableRLS: whatever the names, they appear in the SQL only
// as complete quoted identifiers — replacing them gives exactly the SQL of a
// plain name, so no name can add or change a statement.
func FuzzRenderTenantTableRLS(f *testing.F) {
	for _, s := range []string{"documents", `we"ird`, "a; drop table x; --", `"`, `""`, "'", "\\", "{{.Table}}", "x\ny"} {
		f.Add("public", s, false)
		f.Add(s, "t", true)
	}
	f.Fuzz(func(t *testing.T, schema, table string, rls bool) {
		up, down, err := RenderTenantTableRLS(schema, table, rls)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		refUp, refDown, err := RenderTenantTableRLS("S", "T", rls)
		if err != nil {
			t.Fatal(err)
		}
		q := pgx.Identifier{schema, table}.Sanitize()
		if got := strings.ReplaceAll(up, q, `"S"."T"`); got != refUp {
			t.Fatalf("up SQL for %q.%q differs beyond the quoted name:\n%s", schema, table, up)
		}
		if got := strings.ReplaceAll(down, q, `"S"."T"`); got != refDown {
			t.Fatalf("down SQL for %q.%q differs beyond the quoted name:\n%s", schema, table, down)
		}
	})
}

// FuzzObjectName: any valid identifier gives a valid, bounded, stable name.
func FuzzObjectName(f *testing.F) {
	for _, s := range []string{"documents", strings.Repeat("x", 63), strings.Repeat("é", 31), `a"b`, "日本語のテーブル名前がとても長い場合にはどうなるでしょうか"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, table string) {
		if validateIdentifier("table", table) != nil {
			return
		}
		for _, suffix := range []string{indexSuffix, checkSuffix, orgFKSuffix, projectFKSuffix} {
			n := objectName(table, suffix)
			if len(n) > maxIdentifierBytes || !utf8.ValidString(n) || !strings.HasSuffix(n, suffix) {
				t.Fatalf("objectName(%q, %q) = %q", table, suffix, n)
			}
			if n != objectName(table, suffix) {
				t.Fatal("not deterministic")
			}
			if validateIdentifier("object", n) != nil {
				t.Fatalf("objectName(%q) = %q is not a valid identifier", table, n)
			}
		}
	})
}

// FuzzValidateIdentifier: accepted names are always safe identifiers.
func FuzzValidateIdentifier(f *testing.F) {
	for _, s := range []string{"", "a", "a\x00", "\xff", strings.Repeat("x", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if validateIdentifier("table", name) != nil {
			return
		}
		if name == "" || len(name) > maxIdentifierBytes || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			t.Fatalf("accepted %q", name)
		}
	})
}

func TestDigestIsStableAndCoversEveryMigration(t *testing.T) {
	d := Digest()
	assert.Len(t, d, 64)
	assert.Equal(t, d, Digest())
}
