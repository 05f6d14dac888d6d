//go:build race

package storetest

// raceDetector reports whether the tests run under the race detector.
const raceDetector = true
