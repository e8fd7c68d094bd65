"""Numerical engines of pkmodel: analytic solutions and an independent ODE reference."""
