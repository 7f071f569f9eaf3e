package dev.invalidator.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one scenario measured.
 *
 * @param id short stable id, such as {@code "write-path"}
 * @param title one line for the table
 * @param subject what the figures measure, precisely
 * @param baseline what the baselines measure, precisely
 * @param figures the headline figures with their baselines
 * @param details further numbers (counts, checks, settings) for the JSON
 */
record ScenarioResult(
    String id,
    String title,
    String subject,
    String baseline,
    List<Figure> figures,
    Map<String, Object> details) {
  public ScenarioResult {
    figures = List.copyOf(figures);
    details = new LinkedHashMap<>(details);
  }
}
