package io.pmig.analytics.decisions;

import io.pmig.analytics.AnalyticsConfig;

/**
 * The decision stage's alarm policy, in one place for the app ({@link NodeView}) and for {@code pmig train}'s
 * evaluation: a node is acted on once its scorer has flagged it in {@value AnalyticsConfig#HYSTERESIS_WINDOWS}
 * consecutive windows, and one unflagged window starts the count again.
 */
public final class OverloadStreak {

    private OverloadStreak() {
    }

    /** The count after one more window whose verdict is {@code overloaded}. */
    public static int next(int streak, boolean overloaded) {
        return overloaded ? streak + 1 : 0;
    }

    /** Whether a node flagged in {@code streak} consecutive windows is acted on under a policy of {@code consecutiveWindows}. */
    public static boolean acts(int streak, int consecutiveWindows) {
        return streak >= consecutiveWindows;
    }
}
