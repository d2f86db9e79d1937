"""Compatibility entry points for scripts written against other code bases: MMGeneration's `mmgen.apis`
(`apis`) and the helpers of mmcv, torchvision and notebook forks (`utils`). They are importable as
`stylegan.apis` and `stylegan.utils` too."""
