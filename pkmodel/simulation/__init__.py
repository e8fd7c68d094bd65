"""Orchestration: :func:`.simulate.simulate`, the one front door (model + regimen (+ patient) ->
engine calls -> :class:`.simulate.Simulation`), its exposure metrics (:mod:`.exposure`), and
NONMEM-style datasets simulated record by record (:mod:`.simulate_dataset`)."""
