"""Differentially private training: clip each example's gradient, add noise, and account for what it spends.

    per_example   each example's gradient norm and the clipped sum of DP-SGD (Abadi et al. 2016), for the MLP models
    dp_sgd        one DP-SGD step: a Poisson-sampled batch, the clipped sum, the noise drawn once, any optimizer
    accountant    Renyi DP of the sampled Gaussian mechanism, as (epsilon, delta); sigma for a target, steps in a budget
    budget        a private run's sampling rate, steps and sigma, checked before training; what it covers
    membership    the loss-threshold membership-inference attack and its ROC AUC: the evidence that a model leaks
"""
