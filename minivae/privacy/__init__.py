"""Privacy: training that bounds what the model can learn about any one example.

    per_example   each example's gradient norm and the clipped sum of DP-SGD (Abadi et al. 2016), for the MLP models
"""
