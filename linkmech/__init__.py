"""linkmech: incentive mechanisms of linked decisions as multi-agent environments.

Importing the package registers its environments with PettingZoo (``linkmech/<Name>-v0``); the pure
mechanism core is :mod:`linkmech.mechanisms`.
"""

from linkmech import envs
from linkmech.envs import make

__all__ = ["envs", "make"]
__version__ = "0.1.0"
