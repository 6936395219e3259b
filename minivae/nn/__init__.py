"""The engine: arrays in, arrays and their gradients out. Nothing here knows what a VAE is.

    layers        Layer, Linear, the activations, Sequential, MLP: forward and a hand-written backward
    conv          Conv2D, ConvTranspose2D, Flatten, Unflatten for images
    kernels       the Numba loops of the elementwise work, each beside its plain NumPy twin
    conv_kernels  im2col / col2im, the Numba loops of the convolutions, each beside its NumPy twin
    sequence      Embedding, SequenceLinear and masks for batches of token sequences (N, T)
    recurrent     GRU and LSTM over (N, T, D) with a mask: backpropagation through time by hand
    recurrent_kernels  one GRU or LSTM step's gate arithmetic, forward and backward, each beside its NumPy twin
    losses        negative log-likelihoods (Bernoulli, Gaussian, categorical, tokens) and their gradients
    reparam       the reparameterization z = mu + sigma * eps and its backward pass
    optim         SGD, Adagrad, RMSProp, Adam, AdamW and gradient clipping
    gradcheck     central finite differences and the relative error
"""
