import numpy as np
from sklearn.tree import DecisionTreeClassifier


class IrisTree:
    """A decision tree fitted at load on four made-up flowers (no data set to download)."""

    def load(self):
        X = np.array([[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [6.3, 2.5, 5.0, 1.9]])
        self.tree = DecisionTreeClassifier(random_state=0).fit(X, [0, 0, 1, 1])

    def predict(self, X, feature_names):
        return self.tree.predict(X)
