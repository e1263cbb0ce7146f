namespace Elongate.Model;

/// <summary>
/// Streams generated text while watching for stop strings (a chat template's end-of-turn markers, a client's
/// "stop" list): text that could still be the start of a stop string is held back until it is not, and at a stop
/// string the text before it is released and the rest discarded.
/// </summary>
public sealed class StopStringFilter
{
    private readonly string[] _stops;
    private readonly int _maxStop;
    private readonly System.Text.StringBuilder _all = new();
    private int _released;
    private bool _stopped;

    /// <param name="stops">The stop strings; empty ones are ignored.</param>
    public StopStringFilter(IEnumerable<string> stops)
    {
        _stops = [.. stops.Where(s => s.Length > 0).Distinct()];
        _maxStop = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>The text so far, up to (not including) a stop string once one is seen.</summary>
    public string Text => _stopped ? _all.ToString(0, _released) : _all.ToString();

    /// <summary>Adds generated text. Returns the text now safe to show, and whether a stop string has been seen.</summary>
    public (string Text, bool Stopped) Push(string text)
    {
        if (_stopped) return ("", true);
        // Only the unreleased text and the stop-length run before it can hold a stop string: look at that window
        // alone, so a long generation costs O(new text + stop length) per token, not a copy of everything so far.
        int from = Math.Max(0, _released - _maxStop);
        _all.Append(text);
        var w = _all.ToString(from, _all.Length - from);
        int released = _released - from;
        int cut = -1;
        foreach (var s in _stops)
        {
            int at = w.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            _stopped = true;
            var tail = w[released..Math.Max(released, cut)];
            _released = from + Math.Max(released, cut);
            return (tail, true);
        }
        int hold = 0;
        foreach (var s in _stops)
            for (int k = Math.Min(s.Length - 1, w.Length - released); k > hold; k--)
                if (w.AsSpan(w.Length - k).SequenceEqual(s.AsSpan(0, k))) { hold = k; break; }
        int end = w.Length - hold;
        var ready = w[released..end];
        _released = from + end;
        return (ready, false);
    }

    /// <summary>Releases whatever is held back (generation ended without completing a stop string).</summary>
    public string Flush()
    {
        if (_stopped) return "";
        var rest = _all.ToString(_released, _all.Length - _released);
        _released = _all.Length;
        return rest;
    }

}
