"""Beyond one machine: data-parallel training and distributed scoring on MPI (mpi4py with the mpich wheel).

    mpi         the communicator: rank, size, one Allreduce over one flat buffer, broadcast; a one-process stand-in
                with the same methods; whether an MPI launcher started this process; each rank's shard of a batch
    data_parallel   the sharded gradient step of training: each rank its shard, every gradient (and the loss terms)
                    in one flat buffer, one Allreduce; free bits on the global KL; DP-SGD; a parameter checksum
    parts       a table as a folder of parts, part-000000.parquet, ...: rank r writes the units r, r + size, ...;
                an earlier run's parts replaced, a failure on one rank raised on all

Launch as with any MPI program: ``mpiexec -n 4 python -m minivae train --distributed ...``. Every rank runs the same
program on the same data, with the same seed: the ranks draw the same global batches and the same noise, each
computes the gradient of its shard of the batch, and one Allreduce sums them (the average of the shards' gradients,
weighted by their sizes, is the gradient of the whole batch). Rank 0 alone writes files.
Needs the ``distributed`` extra: pip install "minivae[distributed]".
"""
