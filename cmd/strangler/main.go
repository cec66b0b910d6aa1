// Command strangler is the reverse proxy and its operations tool: serve,
// demo, config validation, migrations, tenantize, and the ops commands that
// talk to the admin API.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}
