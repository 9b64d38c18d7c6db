"""Interactive explorers (ipywidgets 8 + matplotlib). (stub: being written)"""
