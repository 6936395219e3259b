"""The convolutional VAE against the MLP VAE on the bundled MNIST: test negative ELBO and time per epoch.

Both have a 20-D latent space, a Bernoulli likelihood on grey values, Adam 1e-3 and batch 128, and train on the same
9,000 digits (evaluated on the same 1,000), in alternation so that both see the same machine load:

    MLP   784-400-(20+20), decoder 20-400-784                                      (~650k parameters)
    conv  Conv(1->32, 4, s2) - Conv(32->64, 4, s2) - Linear(3136 -> 40), mirrored with transposed convolutions

    python bench/conv_vs_mlp.py                  # 10 epochs
    python bench/conv_vs_mlp.py --epochs 30
"""
import argparse
import time

from minivae import VAE, ConvVAE
from minivae.datasets import load_mnist_test_10k
from minivae.training.trainer import TrainConfig, Trainer


def run(model, data, epochs, seed):
    trainer = Trainer(model, TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, quiet=True))
    t0 = time.perf_counter()
    history = trainer.fit(data.x_train, data.x_test)
    return history["val_loss"][-1], (time.perf_counter() - t0) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = load_mnist_test_10k()
    models = {"MLP VAE 784-400-20": lambda: VAE(784, latent_dim=20, hidden=(400,), seed=args.seed),
              "ConvVAE (32, 64) L=20": lambda: ConvVAE(latent_dim=20, channels=(32, 64), seed=args.seed)}
    print(f"bundled MNIST, {args.epochs} epochs, batch 128, Adam 1e-3, seed {args.seed}")
    print(f"{'model':24s} {'parameters':>10s} {'test -ELBO (nats)':>18s} {'s / epoch':>10s}")
    for name, make in models.items():
        model = make()
        loss, seconds = run(model, data, args.epochs, args.seed)
        print(f"{name:24s} {model.n_parameters:10,d} {loss:18.2f} {seconds:10.2f}")


if __name__ == "__main__":
    main()
