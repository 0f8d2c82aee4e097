"""Bringing array-likes (torch tensors, lists) to numpy without changing their dtype.

The dtype is checked by the extension, which names the tensor in its error; only objects that
are not numpy arrays yet are converted here (a torch tensor through ``.detach().cpu().numpy()``,
anything else through ``numpy.asarray``).
"""

import numpy as np


def as_numpy(x):
    """``x`` as a numpy array; numpy arrays are passed through untouched."""
    if isinstance(x, np.ndarray):
        return x
    # torch.Tensor (also on a GPU or requiring grad): without importing torch.
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy") and callable(x.numpy):
        return np.asarray(x.numpy())
    return np.asarray(x)
