package io.pmig.analytics.scoring;

import io.pmig.analytics.features.WindowFeatures;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import smile.base.cart.DecisionNode;
import smile.base.cart.InternalNode;
import smile.base.cart.Node;
import smile.base.cart.OrdinalNode;
import smile.classification.DecisionTree;
import smile.classification.RandomForest;
import smile.data.Tuple;
import smile.data.type.StructType;
import smile.math.MathEx;

/**
 * A Smile RandomForest's trees as flat arrays, reading the window's features by position: the posteriors of
 * {@code RandomForest.predict(Tuple, double[])}, bit for bit (same split tests, same leaf posteriors, summed in the same
 * order, normalised by the same call), at a fraction of its cost. Smile's walk binds two formula tuples per tree and
 * looks each split's column up through them; that was about a third of the window stage's CPU with the shipped forest.
 *
 * <p>Built only when every split is an ordinal one ({@code x <= value}) and a self-check on random rows agrees exactly
 * with Smile; {@link #of} is empty otherwise and the scorer keeps Smile's own predict.
 */
final class CompiledForest {

    private static final int SELF_CHECK_ROWS = 500;

    private final int classes;
    private final double[] weights;
    /** Per tree, per node: the WindowFeatures index a split reads, or -1 at a leaf. */
    private final int[][] feature;
    private final double[][] threshold;
    private final int[][] whenTrue;
    private final int[][] whenFalse;
    /** Per tree, per node: the leaf's posteriors (null for splits). */
    private final double[][][] leaf;

    private CompiledForest(int classes, double[] weights, int[][] feature, double[][] threshold, int[][] whenTrue,
                           int[][] whenFalse, double[][][] leaf) {
        this.classes = classes;
        this.weights = weights;
        this.feature = feature;
        this.threshold = threshold;
        this.whenTrue = whenTrue;
        this.whenFalse = whenFalse;
        this.leaf = leaf;
    }

    /** Fills {@code posteriori} (length = classes) from features in {@link WindowFeatures#NAMES} order. */
    void predict(double[] features, double[] posteriori) {
        java.util.Arrays.fill(posteriori, 0.0);
        for (int t = 0; t < weights.length; t++) {
            int[] f = feature[t];
            double[] v = threshold[t];
            int node = 0;
            while (f[node] >= 0) {
                node = features[f[node]] <= v[node] ? whenTrue[t][node] : whenFalse[t][node];
            }
            double[] prob = leaf[t][node];
            double w = weights[t];
            for (int i = 0; i < classes; i++) {
                posteriori[i] += w * prob[i];
            }
        }
        MathEx.unitize1(posteriori);
    }

    /**
     * @param schema the model's schema ({@code model.schema()}), whose columns are WindowFeatures names or the response
     * @param featureIndexByColumn for each schema column its WindowFeatures index, -1 for the response
     */
    static Optional<CompiledForest> of(Object model, StructType schema, int[] featureIndexByColumn) {
        if (!(model instanceof RandomForest forest)) {
            return Optional.empty();
        }
        try {
            Field value = OrdinalNode.class.getDeclaredField("value");
            value.setAccessible(true);
            int classes = forest.numClasses();
            RandomForest.Model[] models = forest.models();
            double[] weights = new double[models.length];
            int[][] feature = new int[models.length][];
            double[][] threshold = new double[models.length][];
            int[][] whenTrue = new int[models.length][];
            int[][] whenFalse = new int[models.length][];
            double[][][] leaf = new double[models.length][][];
            Tuple probe = forest.formula().x(Tuple.of(new double[schema.length()], schema));
            for (int t = 0; t < models.length; t++) {
                DecisionTree tree = models[t].tree;
                weights[t] = models[t].weight;
                StructType treeColumns = (tree.formula() == null ? probe : tree.formula().x(probe)).schema();
                List<Node> nodes = new ArrayList<>();
                nodes.add(tree.root());
                for (int n = 0; n < nodes.size(); n++) { // breadth first: children are appended, so indexes are stable
                    Node node = nodes.get(n);
                    if (node instanceof InternalNode internal) {
                        nodes.add(internal.trueChild());
                        nodes.add(internal.falseChild());
                    }
                }
                int size = nodes.size();
                feature[t] = new int[size];
                threshold[t] = new double[size];
                whenTrue[t] = new int[size];
                whenFalse[t] = new int[size];
                leaf[t] = new double[size][];
                int next = 1;
                for (int n = 0; n < size; n++) {
                    Node node = nodes.get(n);
                    if (node instanceof OrdinalNode split) {
                        String column = treeColumns.field(split.feature()).name;
                        int index = WindowFeatures.NAMES.indexOf(column);
                        if (index < 0) {
                            return Optional.empty();
                        }
                        feature[t][n] = index;
                        threshold[t][n] = value.getDouble(split);
                        whenTrue[t][n] = next++;
                        whenFalse[t][n] = next++;
                    } else if (node instanceof DecisionNode decision) {
                        feature[t][n] = -1;
                        leaf[t][n] = decision.posteriori(new double[classes]);
                    } else {
                        return Optional.empty(); // a nominal split or another node kind: leave it to Smile
                    }
                }
            }
            CompiledForest compiled = new CompiledForest(classes, weights, feature, threshold, whenTrue, whenFalse, leaf);
            return compiled.agreesWith(forest, schema, featureIndexByColumn) ? Optional.of(compiled) : Optional.empty();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Exactly Smile's posteriors on random rows around the split values, or the compiled form is not used. */
    private boolean agreesWith(RandomForest forest, StructType schema, int[] featureIndexByColumn) {
        Random random = new Random(17);
        double[] mine = new double[classes];
        double[] smiles = new double[classes];
        for (int r = 0; r < SELF_CHECK_ROWS; r++) {
            double[] features = new double[WindowFeatures.NAMES.size()];
            for (int i = 0; i < features.length; i++) {
                features[i] = pickValue(random, i);
            }
            double[] row = new double[featureIndexByColumn.length];
            for (int i = 0; i < row.length; i++) {
                row[i] = featureIndexByColumn[i] < 0 ? 0 : features[featureIndexByColumn[i]];
            }
            forest.predict(Tuple.of(row, schema), smiles);
            predict(features, mine);
            if (!java.util.Arrays.equals(mine, smiles)) {
                return false;
            }
        }
        return true;
    }

    /** A split value of this feature somewhere in the forest (exactly on it, or just either side), else noise. */
    private double pickValue(Random random, int featureIndex) {
        int t = random.nextInt(weights.length);
        List<Double> values = new ArrayList<>();
        for (int n = 0; n < feature[t].length; n++) {
            if (feature[t][n] == featureIndex) {
                values.add(threshold[t][n]);
            }
        }
        if (values.isEmpty()) {
            return random.nextDouble() * 100;
        }
        double v = values.get(random.nextInt(values.size()));
        return switch (random.nextInt(3)) {
            case 0 -> v;
            case 1 -> Math.nextDown(v);
            default -> Math.nextUp(v) + random.nextDouble();
        };
    }
}
