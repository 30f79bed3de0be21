"""Run inside the engine's virtualenv by test_persisted.py: the stored classifier and CRF give exactly what
scikit-learn's and sklearn-crfsuite's own objects give."""

import sys

import numpy as np
import pycrfsuite
import sklearn_crfsuite
from scipy.sparse import random as sparse_random
from sklearn.linear_model import LogisticRegression

from nlu.persisted import _probabilities

rng = np.random.default_rng(0)
worst = 0.0
for classes in (2, 3, 17):
    X = sparse_random(300, 500, density=0.02, format="csr", random_state=classes)
    y = rng.integers(0, classes, 300)
    clf = LogisticRegression(solver="lbfgs", max_iter=300, class_weight="balanced").fit(X, y)
    ours = np.vstack([_probabilities(np.asarray(X[i] @ clf.coef_.T + clf.intercept_).ravel())
                      for i in range(50)])
    worst = max(worst, float(np.abs(ours - clf.predict_proba(X[:50])).max()))

X = [[{"w": w, "first": i == 0} for i, w in enumerate(s.split())] for s in ("a b c", "b c a", "c a b")] * 4
Y = [["x", "y", "z"], ["y", "z", "x"], ["z", "x", "y"]] * 4
crf = sklearn_crfsuite.CRF(max_iterations=20)
crf.fit(X, Y)
with open(crf.modelfile.name, "rb") as fh:
    data = fh.read()
tagger = pycrfsuite.Tagger()
tagger.open_inmemory(data)
loaded = sklearn_crfsuite.CRF()
loaded.model_bytes = data
loaded._tagger = tagger
a, b = crf.predict_marginals_single(X[0]), loaded.predict_marginals_single(X[0])
crf_worst = max(abs(a[i][k] - b[i][k]) for i in range(3) for k in a[i])
print(f"lr {worst:.2e} crf {crf_worst:.2e}")
sys.exit(0 if worst < 1e-9 and crf_worst < 1e-12 else 1)
