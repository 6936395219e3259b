"""Differentially private training: what one step of DP-SGD costs in privacy, and the sum of those costs.

    accountant    Renyi DP of the sampled Gaussian mechanism, as (epsilon, delta); sigma for a target, steps in a budget
"""
