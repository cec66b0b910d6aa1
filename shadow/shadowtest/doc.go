// Package shadowtest holds the contract suite every shadow.Store passes:
// each store's test file calls RunStoreTests with a constructor of fresh,
// empty stores. The suite pins what issue reports rely on: counts add up
// across batches, filters select exactly, classes sort by count, exemplars
// stay within their daily limit and come back as stored, acknowledgements
// stick, retention deletes what is old and nothing else.
package shadowtest
