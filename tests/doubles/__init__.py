"""Tests of asynctestkit.doubles (SlowCall, Sequencer)."""
