using System.Globalization;

namespace K3dEtcd.Data;

/// <summary>One sample of the Prometheus text format: metric name, labels, value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string? Label(string name) => Labels.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A member's /metrics page, parsed (text format 0.0.4: <c>name{label="v",...} value [timestamp]</c>;
/// comments and HELP/TYPE lines skipped). Plain C#, no Prometheus library.
/// </summary>
public sealed class PrometheusMetrics
{
    private readonly Dictionary<string, List<PrometheusSample>> _byName = new(StringComparer.Ordinal);

    public static PrometheusMetrics Empty { get; } = new();

    public static PrometheusMetrics Parse(string text)
    {
        var result = new PrometheusMetrics();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            string name;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string rest;
            var brace = line.IndexOf('{');
            var space = line.IndexOf(' ');
            if (brace >= 0 && (space < 0 || brace < space))
            {
                var close = line.LastIndexOf('}');
                if (close < brace) continue;
                name = line[..brace];
                ParseLabels(line[(brace + 1)..close], labels);
                rest = line[(close + 1)..].Trim();
            }
            else
            {
                if (space < 0) continue;
                name = line[..space];
                rest = line[(space + 1)..].Trim();
            }
            var valueText = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (valueText is null || !TryParseValue(valueText, out var value)) continue;
            if (!result._byName.TryGetValue(name, out var list)) result._byName[name] = list = [];
            list.Add(new PrometheusSample(name, labels, value));
        }
        return result;
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf": value = double.PositiveInfinity; return true;
            case "-Inf": value = double.NegativeInfinity; return true;
            case "NaN": value = double.NaN; return true;
            default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static void ParseLabels(string text, Dictionary<string, string> labels)
    {
        var i = 0;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            if (eq < 0) return;
            var key = text[i..eq].Trim().TrimStart(',').Trim();
            var q = text.IndexOf('"', eq);
            if (q < 0) return;
            var sb = new System.Text.StringBuilder();
            var j = q + 1;
            for (; j < text.Length && text[j] != '"'; j++)
            {
                if (text[j] == '\\' && j + 1 < text.Length)
                {
                    j++;
                    sb.Append(text[j] == 'n' ? '\n' : text[j]);
                }
                else sb.Append(text[j]);
            }
            labels[key] = sb.ToString();
            i = j + 1;
        }
    }

    /// <summary>Every sample of a metric (empty when the member does not export it).</summary>
    public IReadOnlyList<PrometheusSample> Samples(string name) => _byName.TryGetValue(name, out var l) ? l : [];

    /// <summary>True when the page has the metric at all.</summary>
    public bool Has(string name) => _byName.ContainsKey(name);

    /// <summary>The sum of a metric's samples that match the labels given (null when none does).</summary>
    public double? Value(string name, params (string Label, string Value)[] match)
    {
        var hits = Samples(name).Where(s => match.All(m => s.Label(m.Label) == m.Value)).ToList();
        return hits.Count == 0 ? null : hits.Sum(s => s.Value);
    }

    /// <summary>
    /// The cumulative buckets of histogram <paramref name="name"/> (<c>name_bucket{le=...}</c>) whose
    /// other labels match, summed over the rest (as <c>sum without (...)</c>), sorted by upper bound.
    /// </summary>
    public HistogramBuckets Histogram(string name, params (string Label, string Value)[] match)
    {
        var byBound = new SortedDictionary<double, double>();
        foreach (var s in Samples(name + "_bucket").Where(s => match.All(m => s.Label(m.Label) == m.Value)))
        {
            if (s.Label("le") is not { } le || !TryParseValue(le, out var bound)) continue;
            byBound[bound] = byBound.TryGetValue(bound, out var c) ? c + s.Value : s.Value;
        }
        return new HistogramBuckets(byBound.Select(kv => (kv.Key, kv.Value)).ToArray());
    }
}

/// <summary>A histogram's cumulative buckets: (upper bound, count of observations ≤ bound), sorted by bound.</summary>
public sealed class HistogramBuckets((double UpperBound, double Count)[] buckets)
{
    public IReadOnlyList<(double UpperBound, double Count)> Buckets { get; } = buckets;

    /// <summary>Observations counted (the +Inf bucket).</summary>
    public double Total => Buckets.Count == 0 ? 0 : Buckets[^1].Count;

    /// <summary>
    /// The increase of every bucket from <paramref name="earlier"/> to this sample, as Prometheus'
    /// rate()/increase() see it over a window. A bucket that went down means the member restarted
    /// (counters reset): then this sample counts from zero, as Prometheus' reset handling does.
    /// </summary>
    public HistogramBuckets Since(HistogramBuckets earlier)
    {
        var before = earlier.Buckets.ToDictionary(b => b.UpperBound, b => b.Count);
        var reset = Buckets.Any(b => before.TryGetValue(b.UpperBound, out var c) && b.Count < c);
        if (reset) return this;
        return new HistogramBuckets(Buckets.Select(b => (b.UpperBound, b.Count - (before.TryGetValue(b.UpperBound, out var c) ? c : 0))).ToArray());
    }

    /// <summary>
    /// The q-quantile (0..1) as Prometheus' histogram_quantile computes it: the rank q·total is
    /// found in the first bucket whose cumulative count reaches it, and the value is interpolated
    /// linearly between that bucket's lower bound (the previous bound, 0 for the first bucket) and
    /// its upper bound. A rank in the +Inf bucket gives the highest finite bound. Null without
    /// observations (Prometheus' NaN) or without a +Inf bucket.
    /// </summary>
    public double? Quantile(double q)
    {
        if (Buckets.Count < 2 || !double.IsPositiveInfinity(Buckets[^1].UpperBound)) return null;
        var total = Total;
        if (total <= 0) return null;
        if (q <= 0) return double.NegativeInfinity;
        if (q >= 1) return double.PositiveInfinity;
        var rank = q * total;
        var i = 0;
        while (i < Buckets.Count - 1 && Buckets[i].Count < rank) i++;
        if (i == Buckets.Count - 1) return Buckets[^2].UpperBound;
        var upper = Buckets[i].UpperBound;
        if (i == 0 && upper <= 0) return upper;
        var lower = i == 0 ? 0 : Buckets[i - 1].UpperBound;
        var below = i == 0 ? 0 : Buckets[i - 1].Count;
        var inBucket = Buckets[i].Count - below;
        if (inBucket <= 0) return upper;
        return lower + (upper - lower) * ((rank - below) / inBucket);
    }
}
