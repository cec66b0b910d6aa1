package migrations

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

// sqlFiles holds every migration: the *.sql files at the top of this
// directory, whoever added them. Templates live in a subdirectory and are
// embedded separately so tern never sees them.
//
//go:embed *.sql
var sqlFiles embed.FS

// tenantTableRLS is the row-level security template for legacy tables.
//
//go:embed templates/tenant_table_rls.sql
var tenantTableRLS string

// FS returns the embedded migration files (NNN_name.sql at its root).
func FS() fs.FS { return sqlFiles }

// TenantTableRLSTemplate returns the text/template source used to protect a
// tenantized legacy table (migrations/templates/tenant_table_rls.sql).
func TenantTableRLSTemplate() string { return tenantTableRLS }

// Digest is a hex SHA-256 over the names and contents of the embedded
// migrations: equal digests mean identical schemas. Test helpers use it to
// name template databases.
func Digest() string {
	entries, err := fs.ReadDir(sqlFiles, ".")
	if err != nil {
		// The embedded FS always has a root; this cannot fail.
		panic("read embedded migrations: " + err.Error())
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		body, err := fs.ReadFile(sqlFiles, n)
		if err != nil {
			panic("read embedded migration: " + err.Error())
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(body)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
