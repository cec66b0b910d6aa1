//go:build tools

package tools

import (
	_ "github.com/MicahParks/keyfunc/v3"
	_ "github.com/andybalholm/brotli"
	_ "github.com/coder/websocket"
	_ "github.com/diegoholiveira/jsonlogic/v3"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgxlisten"
	_ "github.com/jackc/tern/v2/migrate"
	_ "github.com/open-feature/go-sdk/openfeature"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spaolacci/murmur3"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/zap"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
	_ "github.com/chromedp/chromedp"
)
