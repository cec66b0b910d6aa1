// Package flagstest is the contract test suite every flags.Store
// implementation passes: RunStoreTests(t, newStore). Each backend's own test
// is a few lines that supply a fresh, empty store per subtest.
package flagstest
