//go:build !race

package payflow

const raceEnabled = false
