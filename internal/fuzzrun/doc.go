// Package fuzzrun holds run.sh, the fuzz step of `make fuzz` and CI, and
// the budgets it runs each fuzz target for; its tests run the script on a
// scratch module to show that it passes on clean targets and fails on a
// finding, and keep the budgets file in step with the module's targets.
package fuzzrun
