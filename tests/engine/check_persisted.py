"""Run inside the engine's virtualenv by test_persisted.py: the stored classifier and CRF give exactly what
scikit-learn's and sklearn-crfsuite's own objects give."""

import sys

import numpy as np
import pycrfsuite
import sklearn_crfsuite
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix
from scipy.sparse import random as sparse_random
from sklearn.linear_model import LogisticRegression

from nlu.persisted import LinearIntentClassifier, _features, _probabilities

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
# sublinear_tf: training rows and a scored message's row are the same log(1 + count) features
message = Message(data={"text": "x"})
counts = csr_matrix(np.array([[0.0, 1.0, 3.0]]))
message.add_features(Features(counts, FEATURE_TYPE_SENTENCE, "text", "cv"))
row = _features(message, sublinear=True).toarray().ravel()
sublinear_ok = np.allclose(row, np.log1p([0.0, 1.0, 3.0])) and _features(message).toarray()[0, 2] == 3.0
component = LinearIntentClassifier.__new__(LinearIntentClassifier)
component.config = {"sublinear_tf": True}
sublinear_ok = sublinear_ok and np.allclose(component._create_X([message, message]).toarray(), [row, row])

print(f"lr {worst:.2e} crf {crf_worst:.2e} sublinear {sublinear_ok}")
sys.exit(0 if worst < 1e-9 and crf_worst < 1e-12 and sublinear_ok else 1)
