"""The models: each an encoder, a decoder and a likelihood (the language model: a decoder alone), one contract.

    base               the contract every model keeps (one loss_and_gradients call, declared options) and shared parts
    autoencoder        the deterministic Autoencoder, the baseline
    vae                the VAE (Kingma & Welling 2013): encoder q(z | x), prior N(0, I), decoder p(x | z)
    conv_vae           a VAE with convolutional encoder and decoder, for images
    cvae               the conditional VAE: encoder and decoder are told the class
    likelihoods        what the decoder's outputs mean: Bernoulli, Gaussian, categorical, mixed table columns
    iwae               the importance-weighted bound: log-weights, the bound, its gradient (Burda et al. 2016)
    sequence_vae       the sequence VAE (Bowman et al. 2016): token ids, GRU encoder and decoder
    sequence_decoding  greedy, sampling, beam search and homotopies for the GRU decoder of the sequence models
    language_model     the GRU language model (no latent variable): the sequence VAE's decoder alone, the baseline

``build_model(config)`` rebuilds any of them from ``model.config()`` (checkpoints store it). The names below are also
importable from ``minivae.models`` itself, as in version 0.1.0.
"""
from minivae.models.conv_vae import ConvVAE
from minivae.models.cvae import ConditionalVAE
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import NEUTRAL, ELBOTerms, LossTerms, Model
from minivae.models.language_model import SequenceLM
from minivae.models.sequence_vae import SequenceVAE
from minivae.models.vae import VAE

MODEL_KINDS = {"VAE": VAE, "Autoencoder": Autoencoder, "ConvVAE": ConvVAE, "ConditionalVAE": ConditionalVAE,
               "SequenceVAE": SequenceVAE, "SequenceLM": SequenceLM}


def build_model(config):
    """An untrained model (Autoencoder, VAE, ConvVAE, ConditionalVAE, SequenceVAE or SequenceLM) from a
    ``model.config()`` dict."""
    kind = config.get("model")
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r} in config; expected one of {sorted(MODEL_KINDS)}")
    return MODEL_KINDS[kind].from_config(config)


__all__ = ["Model", "NEUTRAL", "VAE", "Autoencoder", "ConvVAE", "ConditionalVAE", "SequenceVAE", "SequenceLM",
           "ELBOTerms", "LossTerms", "build_model"]
