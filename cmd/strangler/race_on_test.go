//go:build race

package main

// raceEnabled: the tests run with -race, so the binary they build and run
// is built with -race too, and a data race in serve or demo fails them
// (the race detector exits the process with status 66).
const raceEnabled = true
