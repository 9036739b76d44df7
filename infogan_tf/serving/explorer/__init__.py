"""The latent explorer: a web page to steer an exported InfoGAN's codes and see what they do.

InfoGAN's codes come to mean something without labels (Chen et al. 2016,
Sec. 5, Figure 2: the digit, its slant, its width). The explorer shows it:
a category picker per categorical code, a slider per continuous code, the
noise re-drawn or locked, a traversal grid of one code, and Q's reading of
an uploaded image. It is the library of ``infogan-explore``
(``infogan_tf/cli/explore.py``):

  ``backend``  the model: a SavedModel in this process or TF Serving's REST API;
  ``api``      the HTTP API (TF Serving's predict format) and its checks, TF-free;
  ``images``   uploads (PNG/JPEG, any size) to the model's input, PNG answers;
  ``policy``   which requests are answered (Host, Origin, JSON bodies, CORS) and the serving limits;
  ``admission`` at most ``max_inflight`` model calls at once and a short queue, else 503;
  ``app``      the Flask routes and the server (waitress);
  ``static/``  the page itself: plain HTML, JavaScript and CSS, no build step.

Everything the page shows comes from the export's metadata asset, so it works
for any export (any latent layout, grey or colour images).
"""
