// Command strangler is the reverse proxy and its operations tool: serve,
// demo, config validation, migrations, tenantize, and the ops commands that
// talk to the admin API.
//
// Exit status: 0 on success, 1 on failure (invalid configuration, a
// database or listener error), 2 on a usage error (unknown command or flag,
// a bad flag value, a missing argument), with a one-line reason on stderr.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}
