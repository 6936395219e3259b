"""What a trained model is for: evaluating it, reading its latent space, and the applications.

    evaluation    the importance-weighted bound on log p(x), bits per dimension, the whole report of a model
    latent        interpolation (lerp, slerp), latent grids, traversals, attribute vectors, active units
    latent_design a property predictor on the codes, gradient ascent in z kept near the prior, the decoded path
    anomaly       anomaly scores (negative ELBO, reconstruction error, IW bound), ROC curve and AUC
    imputation    filling in missing values: iterative and Metropolis-within-Gibbs
    synthetic     new examples from the prior, written to .npy / .npz / .csv
    molecules     generated molecules judged with RDKit: validity, uniqueness, novelty, diversity, properties
"""
