package io.pmig.analytics.scoring;

import io.pmig.analytics.features.WindowFeatures;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import smile.base.cart.DecisionNode;
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
 * order, normalised by the same call), for about 60 % of its cost once warm. Smile's walk binds two formula tuples per tree and
 * looks each split's column up through them; that was about a third of the window stage's CPU with the shipped forest.
 *
 * <p>Built only when every split is an ordinal one ({@code x <= value}) and a self-check on random rows agrees exactly
 * with Smile; {@link #of} is empty otherwise and the scorer keeps Smile's own predict.
 */
final class CompiledForest {

    /** Few: they run while the code is still cold, at start-up and on every model update (ModelScorerTest checks 2,000). */
    private static final int SELF_CHECK_ROWS = 100;

    private final int classes;
    private final double[] weights;
    /** Index of each tree's root in the node arrays. Nodes are in preorder: a split's true child is the next node. */
    private final int[] roots;
    /** Per node: a split's false child index shifted left by 8, plus the WindowFeatures index it reads; at a leaf, -1 - leaf slot. */
    private final int[] links;
    private final double[] thresholds;
    /** Per leaf slot, its posteriors ({@code classes} values from slot * classes). */
    private final double[] leaves;

    private CompiledForest(int classes, double[] weights, int[] roots, int[] links, double[] thresholds, double[] leaves) {
        this.classes = classes;
        this.weights = weights;
        this.roots = roots;
        this.links = links;
        this.thresholds = thresholds;
        this.leaves = leaves;
    }

    /** Fills {@code posteriori} (length = classes) from features in {@link WindowFeatures#NAMES} order. */
    void predict(double[] features, double[] posteriori) {
        java.util.Arrays.fill(posteriori, 0.0);
        for (int t = 0; t < roots.length; t++) {
            int node = roots[t];
            int link = links[node];
            while (link >= 0) {
                node = features[link & 0xFF] <= thresholds[node] ? node + 1 : link >>> 8;
                link = links[node];
            }
            int from = (-1 - link) * classes;
            double w = weights[t];
            for (int i = 0; i < classes; i++) {
                posteriori[i] += w * leaves[from + i];
            }
        }
        MathEx.unitize1(posteriori);
    }

    /**
     * @param schema the model's schema ({@code model.schema()}), whose columns are WindowFeatures names or the response
     * @param featureIndexByColumn for each schema column its WindowFeatures index, -1 for the response
     */
    static Optional<CompiledForest> of(Object model, StructType schema, int[] featureIndexByColumn) {
        if (!(model instanceof RandomForest forest) || WindowFeatures.NAMES.size() > 0xFF) {
            return Optional.empty();
        }
        try {
            Field value = OrdinalNode.class.getDeclaredField("value");
            value.setAccessible(true);
            int classes = forest.numClasses();
            RandomForest.Model[] models = forest.models();
            double[] weights = new double[models.length];
            int[] roots = new int[models.length];
            List<Integer> links = new ArrayList<>();
            List<Double> thresholds = new ArrayList<>();
            List<Double> leaves = new ArrayList<>();
            Tuple probe = forest.formula().x(Tuple.of(new double[schema.length()], schema));
            for (int t = 0; t < models.length; t++) {
                DecisionTree tree = models[t].tree;
                weights[t] = models[t].weight;
                roots[t] = links.size();
                StructType treeColumns = (tree.formula() == null ? probe : tree.formula().x(probe)).schema();
                if (!addPreorder(tree.root(), treeColumns, value, classes, links, thresholds, leaves)) {
                    return Optional.empty();
                }
            }
            CompiledForest compiled = new CompiledForest(classes, weights, roots,
                    links.stream().mapToInt(Integer::intValue).toArray(),
                    thresholds.stream().mapToDouble(Double::doubleValue).toArray(),
                    leaves.stream().mapToDouble(Double::doubleValue).toArray());
            return compiled.agreesWith(forest, schema, featureIndexByColumn) ? Optional.of(compiled) : Optional.empty();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Appends the subtree in preorder; false for anything but ordinal splits on known features and decision leaves. */
    private static boolean addPreorder(Node node, StructType columns, Field value, int classes, List<Integer> links,
                                       List<Double> thresholds, List<Double> leaves) throws IllegalAccessException {
        int index = links.size();
        if (index >= 1 << 23) {
            return false; // a false child's index must fit in 23 bits of a link
        }
        if (node instanceof OrdinalNode split) {
            int feature = WindowFeatures.NAMES.indexOf(columns.field(split.feature()).name);
            if (feature < 0) {
                return false;
            }
            links.add(0);
            thresholds.add(value.getDouble(split));
            if (!addPreorder(split.trueChild(), columns, value, classes, links, thresholds, leaves)) {
                return false;
            }
            links.set(index, links.size() << 8 | feature);
            return addPreorder(split.falseChild(), columns, value, classes, links, thresholds, leaves);
        }
        if (node instanceof DecisionNode decision) {
            links.add(-1 - leaves.size() / classes);
            thresholds.add(0.0);
            for (double p : decision.posteriori(new double[classes])) {
                leaves.add(p);
            }
            return true;
        }
        return false; // a nominal split or another node kind: leave it to Smile
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
        List<Double> values = new ArrayList<>();
        int from = random.nextInt(links.length);
        for (int n = from; n < links.length && values.size() < 20; n++) {
            if (links[n] >= 0 && (links[n] & 0xFF) == featureIndex) {
                values.add(thresholds[n]);
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
