package sim_test

import (
	"context"
	"fmt"

	"github.com/casimpay/casimpay/payflow/sim"
)

// Run plays one seed; the same seed replays the same run.
func ExampleRun() {
	a, err := sim.Run(context.Background(), sim.Options{Seed: 42, Steps: 15})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := sim.Run(context.Background(), sim.Options{Seed: 42, Steps: 15})
	fmt.Println("steps:", a.Steps)
	fmt.Println("replays identically:", a.Trace == b.Trace)
	// Output:
	// steps: 15
	// replays identically: true
}

// Faults lists the kinds of faults a run injects; Options.Disable turns
// some off.
func ExampleFaults() {
	for _, f := range sim.Faults() {
		fmt.Print(f, " ")
	}
	fmt.Println()
	// Output:
	// lost-request lost-reply duplicate clock-jump expiry-jump epoch-change revoke wrong-pin restart crash rotate-key store-error
}
