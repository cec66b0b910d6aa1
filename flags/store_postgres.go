package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// NotifyChannel is the PostgreSQL channel of flag changes; the payload is
// the changed flag key (migrations/010_create_flags_tables.sql).
const NotifyChannel = "strangler_flags"

// PostgresStoreOptions configure a PostgresStore. The zero value is usable.
type PostgresStoreOptions struct {
	// ListenConnect opens the dedicated connection that LISTENs for
	// changes (LISTEN is per session, so it cannot be a pooled connection).
	// Default: a new connection with the pool's connection config.
	ListenConnect func(ctx context.Context) (*pgx.Conn, error)
	// ReconnectDelay is the pause before the change feed reconnects after
	// losing its connection. Default 500ms, so a replica is back in sync
	// within about a second of the database returning.
	ReconnectDelay time.Duration
	// Logger receives feed connection changes. Default: no-op.
	Logger *zap.Logger
}

// PostgresStore is a Store in PostgreSQL (schema strangler, tables of
// migration 010). Every mutation and its history entry commit in one
// transaction, serialised per flag by a transaction-level advisory lock so
// "before" is exact; a trigger NOTIFYs the change to every replica.
type PostgresStore struct {
	pool *pgxpool.Pool
	opts PostgresStoreOptions
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store over pool.
func NewPostgresStore(pool *pgxpool.Pool, opts PostgresStoreOptions) *PostgresStore {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.ReconnectDelay <= 0 {
		opts.ReconnectDelay = 500 * time.Millisecond
	}
	if opts.ListenConnect == nil {
		cfg := pool.Config().ConnConfig.Copy()
		opts.ListenConnect = func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) }
	}
	return &PostgresStore{pool: pool, opts: opts}
}

const (
	selectRules = `SELECT flag, default_variant, allow, rollout_variant, rollout_basis_points, actor, updated_at
		FROM strangler.flag_rules`
	selectOverrides = `SELECT flag, org_id, org_slug, variant, reason, actor, updated_at
		FROM strangler.flag_overrides`
	selectKillSwitch = `SELECT enabled, reason, actor, updated_at FROM strangler.flag_kill_switch WHERE id`
)

// Load implements Store: one REPEATABLE READ transaction, so rules,
// overrides and kill switch are read from the same snapshot.
func (s *PostgresStore) Load(ctx context.Context) (State, error) {
	var st State
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if st.Rules, err = queryRules(ctx, tx, selectRules+` ORDER BY flag`); err != nil {
			return err
		}
		if st.Overrides, err = queryOverrides(ctx, tx, selectOverrides+` ORDER BY flag, org_id`); err != nil {
			return err
		}
		st.KillSwitch, err = queryKillSwitch(ctx, tx)
		return err
	})
	if err != nil {
		return State{}, fmt.Errorf("load flags: %w", err)
	}
	return st, nil
}

// Rule implements Store.
func (s *PostgresStore) Rule(ctx context.Context, flag string) (Rule, error) {
	rules, err := queryRules(ctx, s.pool, selectRules+` WHERE flag = $1`, flag)
	if err != nil {
		return Rule{}, fmt.Errorf("get rule: %w", err)
	}
	if len(rules) == 0 {
		return Rule{}, fmt.Errorf("rule %q: %w", truncate(flag, 64), ErrNotFound)
	}
	return rules[0], nil
}

// Overrides implements Store.
func (s *PostgresStore) Overrides(ctx context.Context, flag string) ([]Override, error) {
	out, err := queryOverrides(ctx, s.pool, selectOverrides+` WHERE $1 = '' OR flag = $1 ORDER BY flag, org_id`, flag)
	if err != nil {
		return nil, fmt.Errorf("list overrides: %w", err)
	}
	return out, nil
}

// SetRule implements Store.
func (s *PostgresStore) SetRule(ctx context.Context, r Rule, a Audit) (*Rule, error) {
	if err := ValidateRule(r); err != nil {
		return nil, err
	}
	if err := validateAudit(a); err != nil {
		return nil, err
	}
	allow := r.Allow
	if allow == nil {
		allow = []AllowList{}
	}
	allowJSON, err := json.Marshal(allow)
	if err != nil {
		return nil, fmt.Errorf("set rule: encode allow lists: %w", err)
	}
	var roVariant *string
	var roBP *int32
	if r.Rollout != nil {
		v, bp := r.Rollout.Variant.String(), int32(r.Rollout.basisPoints())
		roVariant, roBP = &v, &bp
	}
	var before *Rule
	err = s.inTx(ctx, r.Flag, func(tx pgx.Tx) error {
		old, err := queryRules(ctx, tx, selectRules+` WHERE flag = $1`, r.Flag)
		if err != nil {
			return err
		}
		if len(old) > 0 {
			before = &old[0]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO strangler.flag_rules
			(flag, default_variant, allow, rollout_variant, rollout_basis_points, actor, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, now())
			ON CONFLICT (flag) DO UPDATE SET default_variant = EXCLUDED.default_variant, allow = EXCLUDED.allow,
				rollout_variant = EXCLUDED.rollout_variant, rollout_basis_points = EXCLUDED.rollout_basis_points,
				actor = EXCLUDED.actor, updated_at = now()`,
			r.Flag, r.DefaultVariant.String(), allowJSON, roVariant, roBP, a.Actor); err != nil {
			return err
		}
		return appendHistory(ctx, tx, a, ActionRuleSet, r.Flag, "", "", ruleDoc(before), ruleDoc(&r))
	})
	if err != nil {
		return nil, fmt.Errorf("set rule: %w", err)
	}
	return before, nil
}

// DeleteRule implements Store.
func (s *PostgresStore) DeleteRule(ctx context.Context, flag string, a Audit) (Rule, error) {
	if err := validateAudit(a); err != nil {
		return Rule{}, err
	}
	var before Rule
	err := s.inTx(ctx, flag, func(tx pgx.Tx) error {
		old, err := queryRules(ctx, tx, selectRules+` WHERE flag = $1`, flag)
		if err != nil {
			return err
		}
		if len(old) == 0 {
			return fmt.Errorf("rule %q: %w", truncate(flag, 64), ErrNotFound)
		}
		before = old[0]
		if _, err := tx.Exec(ctx, `DELETE FROM strangler.flag_rules WHERE flag = $1`, flag); err != nil {
			return err
		}
		return appendHistory(ctx, tx, a, ActionRuleDelete, flag, "", "", ruleDoc(&before), ruleDoc(nil))
	})
	if err != nil {
		return Rule{}, fmt.Errorf("delete rule: %w", err)
	}
	return before, nil
}

// SetOverride implements Store.
func (s *PostgresStore) SetOverride(ctx context.Context, o Override, a Audit) (*Override, error) {
	if err := ValidateOverride(o); err != nil {
		return nil, err
	}
	if err := validateAudit(a); err != nil {
		return nil, err
	}
	var before *Override
	err := s.inTx(ctx, o.Flag, func(tx pgx.Tx) error {
		old, err := queryOverrides(ctx, tx, selectOverrides+` WHERE flag = $1 AND org_id = $2`, o.Flag, o.OrgID)
		if err != nil {
			return err
		}
		if len(old) > 0 {
			before = &old[0]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO strangler.flag_overrides
			(flag, org_id, org_slug, variant, reason, actor, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
			ON CONFLICT (flag, org_id) DO UPDATE SET org_slug = EXCLUDED.org_slug, variant = EXCLUDED.variant,
				reason = EXCLUDED.reason, actor = EXCLUDED.actor, updated_at = now()`,
			o.Flag, o.OrgID, o.OrgSlug, o.Variant.String(), a.Reason, a.Actor); err != nil {
			return err
		}
		return appendHistory(ctx, tx, a, ActionOverrideSet, o.Flag, o.OrgID, o.OrgSlug, overrideDoc(before), overrideDoc(&o))
	})
	if err != nil {
		return nil, fmt.Errorf("set override: %w", err)
	}
	return before, nil
}

// DeleteOverride implements Store.
func (s *PostgresStore) DeleteOverride(ctx context.Context, flag, orgID string, a Audit) (Override, error) {
	if err := validateAudit(a); err != nil {
		return Override{}, err
	}
	var before Override
	err := s.inTx(ctx, flag, func(tx pgx.Tx) error {
		old, err := queryOverrides(ctx, tx, selectOverrides+` WHERE flag = $1 AND org_id = $2`, flag, orgID)
		if err != nil {
			return err
		}
		if len(old) == 0 {
			return fmt.Errorf("override of %q for %q: %w", truncate(flag, 64), truncate(orgID, 64), ErrNotFound)
		}
		before = old[0]
		if _, err := tx.Exec(ctx, `DELETE FROM strangler.flag_overrides WHERE flag = $1 AND org_id = $2`, flag, orgID); err != nil {
			return err
		}
		return appendHistory(ctx, tx, a, ActionOverrideUnset, flag, orgID, before.OrgSlug, overrideDoc(&before), overrideDoc(nil))
	})
	if err != nil {
		return Override{}, fmt.Errorf("delete override: %w", err)
	}
	return before, nil
}

// KillSwitch implements Store.
func (s *PostgresStore) KillSwitch(ctx context.Context) (KillSwitch, error) {
	k, err := queryKillSwitch(ctx, s.pool)
	if err != nil {
		return KillSwitch{}, fmt.Errorf("get kill switch: %w", err)
	}
	return k, nil
}

// SetKillSwitch implements Store.
func (s *PostgresStore) SetKillSwitch(ctx context.Context, enabled bool, a Audit) (KillSwitch, error) {
	if err := validateAudit(a); err != nil {
		return KillSwitch{}, err
	}
	var before KillSwitch
	err := s.inTx(ctx, KillSwitchFlag, func(tx pgx.Tx) error {
		var err error
		if before, err = queryKillSwitch(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE strangler.flag_kill_switch
			SET enabled = $1, reason = $2, actor = $3, updated_at = now() WHERE id`, enabled, a.Reason, a.Actor)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errors.New("kill switch row missing: run the migrations")
		}
		return appendHistory(ctx, tx, a, ActionKillSwitchSet, KillSwitchFlag, "", "",
			killSwitchDoc(before.Enabled), killSwitchDoc(enabled))
	})
	if err != nil {
		return KillSwitch{}, fmt.Errorf("set kill switch: %w", err)
	}
	return before, nil
}

// History implements Store.
func (s *PostgresStore) History(ctx context.Context, f HistoryFilter) ([]HistoryEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, flag, org_id, org_slug, before, after, reason
		FROM strangler.flag_history
		WHERE ($1 = '' OR flag = $1) AND ($2 = '' OR org_id = $2) AND ($3::bigint <= 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, f.Flag, f.OrgID, f.BeforeID, clampHistoryLimit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("list flag history: %w", err)
	}
	out := []HistoryEntry{}
	for rows.Next() {
		var e HistoryEntry
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Flag, &e.OrgID, &e.OrgSlug, &before, &after, &e.Reason); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list flag history: %w", err)
		}
		e.At = e.At.UTC()
		e.Before, e.After = jsonOrNull(before), jsonOrNull(after)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list flag history: %w", err)
	}
	return out, nil
}

// inTx runs fn in a transaction holding the advisory lock of flag, so
// concurrent changes of one flag serialise and each records the exact
// "before".
func (s *PostgresStore) inTx(ctx context.Context, flag string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, advisoryNamespace, flagLockKey(flag)); err != nil {
			return fmt.Errorf("lock flag: %w", err)
		}
		return fn(tx)
	})
}

// advisoryNamespace is the first key of the flags' advisory locks
// ("flag" in ASCII), so they do not collide with other users of
// two-key advisory locks.
const advisoryNamespace int32 = 0x666c6167

func flagLockKey(flag string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(flag))
	return int32(h.Sum32())
}

func appendHistory(ctx context.Context, tx pgx.Tx, a Audit, action, flag, orgID, orgSlug string, before, after json.RawMessage) error {
	_, err := tx.Exec(ctx, `INSERT INTO strangler.flag_history (actor, action, flag, org_id, org_slug, before, after, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.Actor, action, flag, orgID, orgSlug, []byte(before), []byte(after), a.Reason)
	if err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	return nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func queryRules(ctx context.Context, q querier, sql string, args ...any) ([]Rule, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var (
			r         Rule
			def       string
			allow     []byte
			roVariant *string
			roBP      *int32
		)
		if err := rows.Scan(&r.Flag, &def, &allow, &roVariant, &roBP, &r.Actor, &r.UpdatedAt); err != nil {
			return nil, err
		}
		if r.DefaultVariant, err = ParseMode(def); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Flag, err)
		}
		if err := json.Unmarshal(allow, &r.Allow); err != nil {
			return nil, fmt.Errorf("rule %q: allow lists: %w", r.Flag, err)
		}
		if len(r.Allow) == 0 {
			r.Allow = nil
		}
		if roVariant != nil && roBP != nil {
			v, err := ParseMode(*roVariant)
			if err != nil {
				return nil, fmt.Errorf("rule %q: rollout: %w", r.Flag, err)
			}
			r.Rollout = &Rollout{Variant: v, Percent: float64(*roBP) / 100}
		}
		r.UpdatedAt = r.UpdatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

func queryOverrides(ctx context.Context, q querier, sql string, args ...any) ([]Override, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		var variant string
		if err := rows.Scan(&o.Flag, &o.OrgID, &o.OrgSlug, &variant, &o.Reason, &o.Actor, &o.UpdatedAt); err != nil {
			return nil, err
		}
		if o.Variant, err = ParseMode(variant); err != nil {
			return nil, fmt.Errorf("override %q/%q: %w", o.Flag, o.OrgID, err)
		}
		o.UpdatedAt = o.UpdatedAt.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}

func queryKillSwitch(ctx context.Context, q querier) (KillSwitch, error) {
	var k KillSwitch
	err := q.QueryRow(ctx, selectKillSwitch).Scan(&k.Enabled, &k.Reason, &k.Actor, &k.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// The migration inserts the row; without it, the documented default.
		return KillSwitch{Enabled: true}, nil
	}
	k.UpdatedAt = k.UpdatedAt.UTC()
	return k, err
}

func jsonOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}
