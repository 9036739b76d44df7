"""Metrics of what an InfoGAN learned (Chen et al. 2016, Sec. 7), one per module.

Each metric module has a public ``compute_*`` function returning a
JSON-ready dict, over a pure-numpy core that the tests check on known cases:

* ``unsupervised_accuracy`` -- categorical code vs labels: Hungarian
  one-to-one accuracy, confusion matrix, many-to-one purity;
* ``mutual_information`` -- the lower bound L_I on fresh samples, categorical
  and continuous parts, next to H(c);
* ``code_recovery`` -- Q's accuracy on categorical codes, R^2 on continuous;
* ``frechet_distance`` and ``classifier_score`` -- sample quality in the
  feature space of the project's own MNIST classifier
  (:mod:`infogan_tf.evaluation.classifier`);
* ``continuous_effects`` (over ``image_statistics``) -- what each continuous
  code controls (slant, width, thickness ...), by Spearman rho over a sweep;
* ``code_factors`` (over ``continuous_effects``) -- whether each continuous
  code moves one factor monotonically, no two codes the same, and Q's
  continuous output tracks that factor on real images (Pearson r).

The label-free view-consistency check is not here: the trainer logs it, so
it lives in :mod:`infogan_tf.training.label_free` (imports point one way),
and :mod:`infogan_tf.evaluation.evaluate` calls it from there.

``handle`` is the seam between a trained model and the metrics (numpy in,
numpy out, images in [0, 1]); ``figures`` draws the paper-style figures.
:mod:`infogan_tf.evaluation.evaluate` runs all of them on a training run.
"""
