"""The studio: an interactive web page for exploring a generator (`stylegan studio`)."""
