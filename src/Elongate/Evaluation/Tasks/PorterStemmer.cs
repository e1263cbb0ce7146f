namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980), step by step as in the
/// paper, with the variants of NLTK's <c>nltk.stem.porter.PorterStemmer</c> selectable by <see cref="PorterStemmerMode"/>.
/// Input is expected lower-case (rouge-score lower-cases before stemming); letters other than a, e, i, o, u and a
/// y after a consonant are consonants, digits included, as in NLTK.
/// </summary>
/// <remarks>
/// As in NLTK, each step tries its rules in order and the first rule whose suffix matches decides: if its condition
/// fails the word is left unchanged by that step (no later rule of the step is tried). Step 5a is the exception, where
/// both E rules are tried, because the paper's examples (cease → ceas, rate → rate) need it.
/// </remarks>
public sealed class PorterStemmer
{
    private static readonly Dictionary<string, string> IrregularForms = new(StringComparer.Ordinal)
    {
        // NLTK_EXTENSIONS' table of irregular forms (from Martin Porter's own list of reported errors).
        ["sky"] = "sky", ["skies"] = "sky", ["dying"] = "die", ["lying"] = "lie", ["tying"] = "tie", ["news"] = "news",
        ["innings"] = "inning", ["inning"] = "inning", ["outings"] = "outing", ["outing"] = "outing",
        ["cannings"] = "canning", ["canning"] = "canning", ["howe"] = "howe",
        ["proceed"] = "proceed", ["exceed"] = "exceed", ["succeed"] = "succeed",
    };

    /// <summary>A stemmer in <paramref name="mode"/>.</summary>
    public PorterStemmer(PorterStemmerMode mode = PorterStemmerMode.NltkExtensions) => Mode = mode;

    /// <summary>The variant this stemmer runs.</summary>
    public PorterStemmerMode Mode { get; }

    /// <summary>The published algorithm (NLTK ORIGINAL_ALGORITHM).</summary>
    public static PorterStemmer Original { get; } = new(PorterStemmerMode.Original);

    /// <summary>NLTK's default variant, the one rouge-score uses.</summary>
    public static PorterStemmer Nltk { get; } = new(PorterStemmerMode.NltkExtensions);

    private bool IsNltk => Mode == PorterStemmerMode.NltkExtensions;

    /// <summary>The stem of <paramref name="word"/> (lower-cased first, as NLTK's stem() does by default).</summary>
    public string Stem(string word)
    {
        var w = word.ToLowerInvariant();
        if (IsNltk && IrregularForms.TryGetValue(w, out var irregular)) return irregular;
        // Not in the paper: Martin's and NLTK's versions leave words of one or two letters alone.
        if (Mode != PorterStemmerMode.Original && w.Length <= 2) return w;
        w = Step1a(w);
        w = Step1b(w);
        w = Step1c(w);
        w = Step2(w);
        w = Step3(w);
        w = Step4(w);
        w = Step5a(w);
        return Step5b(w);
    }

    // --- the paper's definitions -------------------------------------------------------------------------------

    /// <summary>A consonant is a letter other than a, e, i, o, u, and other than y preceded by a consonant.</summary>
    private static bool IsConsonant(string w, int i)
    {
        // Iterative form of the recursive definition: a run of y's alternates consonant/vowel from its start.
        bool consonant = true;
        for (int k = 0; k <= i; k++)
        {
            char c = w[k];
            consonant = c switch
            {
                'a' or 'e' or 'i' or 'o' or 'u' => false,
                'y' => k == 0 || !consonant,
                _ => true,
            };
        }
        return consonant;
    }

    /// <summary>m in [C](VC){m}[V]: the number of vowel-to-consonant transitions.</summary>
    private static int Measure(string stem)
    {
        int m = 0;
        bool previousVowel = false;
        for (int i = 0; i < stem.Length; i++)
        {
            bool consonant = IsConsonant(stem, i);
            if (consonant && previousVowel) m++;
            previousVowel = !consonant;
        }
        return m;
    }

    private static bool ContainsVowel(string stem)
    {
        for (int i = 0; i < stem.Length; i++)
            if (!IsConsonant(stem, i)) return true;
        return false;
    }

    /// <summary>*d: the word ends with a double consonant.</summary>
    private static bool EndsDoubleConsonant(string w) => w.Length >= 2 && w[^1] == w[^2] && IsConsonant(w, w.Length - 1);

    /// <summary>*o: the stem ends consonant-vowel-consonant, the last not w, x or y (NLTK also accepts a two-letter vowel-consonant word).</summary>
    private bool EndsCvc(string w) =>
        (w.Length >= 3 && IsConsonant(w, w.Length - 3) && !IsConsonant(w, w.Length - 2) && IsConsonant(w, w.Length - 1) && w[^1] is not ('w' or 'x' or 'y'))
        || (IsNltk && w.Length == 2 && !IsConsonant(w, 0) && IsConsonant(w, 1));

    private delegate bool Condition(string stem);

    /// <summary>The first rule whose suffix ends the word decides: replaced when its condition holds on the stem, else the word is unchanged.</summary>
    private static string ApplyFirst(string w, ReadOnlySpan<(string Suffix, string Replacement, Condition? When)> rules)
    {
        foreach (var (suffix, replacement, when) in rules)
        {
            if (!w.EndsWith(suffix, StringComparison.Ordinal)) continue;
            var stem = w[..^suffix.Length];
            return when is null || when(stem) ? stem + replacement : w;
        }
        return w;
    }

    private static bool PositiveMeasure(string stem) => Measure(stem) > 0;

    private static bool MeasureAboveOne(string stem) => Measure(stem) > 1;

    // --- the steps ---------------------------------------------------------------------------------------------

    // SSES → SS, IES → I, SS → SS, S → (caresses → caress, ponies → poni, ties → ti, cats → cat).
    private string Step1a(string w)
    {
        // NLTK: "ties" → "tie", "dies" → "die" (but "flies" → "fli").
        if (IsNltk && w.Length == 4 && w.EndsWith("ies", StringComparison.Ordinal)) return w[..^3] + "ie";
        return ApplyFirst(w, [("sses", "ss", null), ("ies", "i", null), ("ss", "ss", null), ("s", "", null)]);
    }

    // (m>0) EED → EE; (*v*) ED →; (*v*) ING →; then AT → ATE, BL → BLE, IZ → IZE, *d (not l, s, z) → single letter,
    // (m=1 and *o) → E.
    private string Step1b(string w)
    {
        if (IsNltk && w.EndsWith("ied", StringComparison.Ordinal))
            return w.Length == 4 ? w[..^3] + "ie" : w[..^3] + "i";
        if (w.EndsWith("eed", StringComparison.Ordinal))
        {
            var stem = w[..^3];
            return Measure(stem) > 0 ? stem + "ee" : w;
        }
        string? s = null;
        foreach (var suffix in (ReadOnlySpan<string>)["ed", "ing"])
        {
            if (w.EndsWith(suffix, StringComparison.Ordinal) && ContainsVowel(w[..^suffix.Length]))
            {
                s = w[..^suffix.Length];
                break;
            }
        }
        if (s is null) return w;
        if (s.EndsWith("at", StringComparison.Ordinal) || s.EndsWith("bl", StringComparison.Ordinal) || s.EndsWith("iz", StringComparison.Ordinal))
            return s + "e";
        if (EndsDoubleConsonant(s))
            return s[^1] is 'l' or 's' or 'z' ? s : s[..^1];
        return Measure(s) == 1 && EndsCvc(s) ? s + "e" : s;
    }

    // (*v*) Y → I (happy → happi, sky → sky); NLTK: only after a consonant that is not the whole stem.
    private string Step1c(string w)
    {
        if (!w.EndsWith('y')) return w;
        var stem = w[..^1];
        bool ok = IsNltk ? stem.Length > 1 && IsConsonant(stem, stem.Length - 1) : ContainsVowel(stem);
        return ok ? stem + "i" : w;
    }

    private string Step2(string w)
    {
        if (IsNltk && w.EndsWith("alli", StringComparison.Ordinal) && PositiveMeasure(w[..^4]))
            // NLTK applies ALLI → AL first and runs the step again on the result.
            return Step2(w[..^4] + "al");
        var rules = new List<(string, string, Condition?)>
        {
            ("ational", "ate", PositiveMeasure),
            ("tional", "tion", PositiveMeasure),
            ("enci", "ence", PositiveMeasure),
            ("anci", "ance", PositiveMeasure),
            ("izer", "ize", PositiveMeasure),
            Mode == PorterStemmerMode.Original ? ("abli", "able", PositiveMeasure) : ("bli", "ble", PositiveMeasure),
            ("alli", "al", PositiveMeasure),
            ("entli", "ent", PositiveMeasure),
            ("eli", "e", PositiveMeasure),
            ("ousli", "ous", PositiveMeasure),
            ("ization", "ize", PositiveMeasure),
            ("ation", "ate", PositiveMeasure),
            ("ator", "ate", PositiveMeasure),
            ("alism", "al", PositiveMeasure),
            ("iveness", "ive", PositiveMeasure),
            ("fulness", "ful", PositiveMeasure),
            ("ousness", "ous", PositiveMeasure),
            ("aliti", "al", PositiveMeasure),
            ("iviti", "ive", PositiveMeasure),
            ("biliti", "ble", PositiveMeasure),
        };
        if (IsNltk)
        {
            rules.Add(("fulli", "ful", PositiveMeasure));
            // NLTK keeps the l of -logi with the stem when measuring, so short stems such as geo-, theo- qualify.
            var word = w;
            rules.Add(("logi", "log", _ => PositiveMeasure(word[..^3])));
        }
        else if (Mode == PorterStemmerMode.MartinExtensions)
            rules.Add(("logi", "log", PositiveMeasure));
        return ApplyFirst(w, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rules));
    }

    private static string Step3(string w) => ApplyFirst(w,
    [
        ("icate", "ic", PositiveMeasure), ("ative", "", PositiveMeasure), ("alize", "al", PositiveMeasure),
        ("iciti", "ic", PositiveMeasure), ("ical", "ic", PositiveMeasure), ("ful", "", PositiveMeasure),
        ("ness", "", PositiveMeasure),
    ]);

    private static string Step4(string w) => ApplyFirst(w,
    [
        ("al", "", MeasureAboveOne), ("ance", "", MeasureAboveOne), ("ence", "", MeasureAboveOne),
        ("er", "", MeasureAboveOne), ("ic", "", MeasureAboveOne), ("able", "", MeasureAboveOne),
        ("ible", "", MeasureAboveOne), ("ant", "", MeasureAboveOne), ("ement", "", MeasureAboveOne),
        ("ment", "", MeasureAboveOne), ("ent", "", MeasureAboveOne),
        ("ion", "", s => MeasureAboveOne(s) && s[^1] is 's' or 't'),
        ("ou", "", MeasureAboveOne), ("ism", "", MeasureAboveOne), ("ate", "", MeasureAboveOne),
        ("iti", "", MeasureAboveOne), ("ous", "", MeasureAboveOne), ("ive", "", MeasureAboveOne),
        ("ize", "", MeasureAboveOne),
    ]);

    // (m>1) E →; (m=1 and not *o) E → (probate → probat, rate → rate, cease → ceas).
    private string Step5a(string w)
    {
        if (!w.EndsWith('e')) return w;
        var stem = w[..^1];
        int m = Measure(stem);
        return m > 1 || (m == 1 && !EndsCvc(stem)) ? stem : w;
    }

    // (m>1 and *d and *L) → single letter (controll → control, roll → roll).
    private static string Step5b(string w) =>
        w.EndsWith("ll", StringComparison.Ordinal) && Measure(w[..^1]) > 1 ? w[..^1] : w;
}
