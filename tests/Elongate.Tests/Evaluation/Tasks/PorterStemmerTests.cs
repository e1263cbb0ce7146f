using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

public class PorterStemmerTests
{
    // The examples of Porter (1980), "An algorithm for suffix stripping", rule by rule, pushed through the whole
    // algorithm (a step's output such as agreed → agree continues to later steps: agree → agre in step 5a).
    [Theory]
    // Step 1a
    [InlineData("caresses", "caress")]
    [InlineData("ponies", "poni")]
    [InlineData("ties", "ti")]
    [InlineData("caress", "caress")]
    [InlineData("cats", "cat")]
    // Step 1b
    [InlineData("feed", "feed")]
    [InlineData("agreed", "agre")]
    [InlineData("plastered", "plaster")]
    [InlineData("bled", "bled")]
    [InlineData("motoring", "motor")]
    [InlineData("sing", "sing")]
    [InlineData("conflated", "conflat")]
    [InlineData("troubled", "troubl")]
    [InlineData("sized", "size")]
    [InlineData("hopping", "hop")]
    [InlineData("tanned", "tan")]
    [InlineData("falling", "fall")]
    [InlineData("hissing", "hiss")]
    [InlineData("fizzed", "fizz")]
    [InlineData("failing", "fail")]
    [InlineData("filing", "file")]
    // Step 1c
    [InlineData("happy", "happi")]
    [InlineData("sky", "sky")]
    // Step 2
    [InlineData("relational", "relat")]
    [InlineData("conditional", "condit")]
    [InlineData("rational", "ration")]
    [InlineData("valenci", "valenc")]
    [InlineData("hesitanci", "hesit")]
    [InlineData("digitizer", "digit")]
    [InlineData("conformabli", "conform")]
    [InlineData("radicalli", "radic")]
    [InlineData("differentli", "differ")]
    [InlineData("vileli", "vile")]
    [InlineData("analogousli", "analog")]
    [InlineData("vietnamization", "vietnam")]
    [InlineData("predication", "predic")]
    [InlineData("operator", "oper")]
    [InlineData("feudalism", "feudal")]
    [InlineData("decisiveness", "decis")]
    [InlineData("hopefulness", "hope")]
    [InlineData("callousness", "callous")]
    [InlineData("formaliti", "formal")]
    [InlineData("sensitiviti", "sensit")]
    [InlineData("sensibiliti", "sensibl")]
    // Step 3
    [InlineData("triplicate", "triplic")]
    [InlineData("formative", "form")]
    [InlineData("formalize", "formal")]
    [InlineData("electriciti", "electr")]
    [InlineData("electrical", "electr")]
    [InlineData("hopeful", "hope")]
    [InlineData("goodness", "good")]
    // Step 4
    [InlineData("revival", "reviv")]
    [InlineData("allowance", "allow")]
    [InlineData("inference", "infer")]
    [InlineData("airliner", "airlin")]
    [InlineData("gyroscopic", "gyroscop")]
    [InlineData("adjustable", "adjust")]
    [InlineData("defensible", "defens")]
    [InlineData("irritant", "irrit")]
    [InlineData("replacement", "replac")]
    [InlineData("adjustment", "adjust")]
    [InlineData("dependent", "depend")]
    [InlineData("adoption", "adopt")]
    [InlineData("homologou", "homolog")]
    [InlineData("communism", "commun")]
    [InlineData("activate", "activ")]
    [InlineData("angulariti", "angular")]
    [InlineData("homologous", "homolog")]
    [InlineData("effective", "effect")]
    [InlineData("bowdlerize", "bowdler")]
    // Step 5
    [InlineData("probate", "probat")]
    [InlineData("rate", "rate")]
    [InlineData("cease", "ceas")]
    [InlineData("controll", "control")]
    [InlineData("roll", "roll")]
    // The paper's closing examples of multi-step reduction
    [InlineData("generalization", "gener")]
    [InlineData("oscillators", "oscil")]
    public void Original_algorithm_gives_the_papers_examples(string word, string stem) =>
        Assert.Equal(stem, PorterStemmer.Original.Stem(word));

    // Where NLTK's default mode (what rouge-score runs) departs from the paper, each difference pinned by a word.
    [Theory]
    [InlineData("ties", "ti", "tie")]              // -ies of a four-letter word → -ie
    [InlineData("dies", "di", "die")]
    [InlineData("died", "di", "die")]              // -ied of a four-letter word → -ie
    [InlineData("enjoy", "enjoi", "enjoy")]        // y → i only after a consonant
    [InlineData("spy", "spy", "spi")]              // … which need not follow a vowel
    [InlineData("dying", "dy", "die")]             // irregular forms table
    [InlineData("skies", "ski", "sky")]
    [InlineData("possibli", "possibli", "possibl")] // -bli → -ble, not only -abli → -able
    [InlineData("archaeology", "archaeologi", "archaeolog")] // -logi → -log
    [InlineData("hopefulli", "hopefulli", "hope")] // -fulli → -ful
    [InlineData("as", "a", "as")]                  // one- and two-letter words are left alone
    public void Nltk_extensions_differ_from_the_paper_where_documented(string word, string original, string nltk)
    {
        Assert.Equal(original, PorterStemmer.Original.Stem(word));
        Assert.Equal(nltk, PorterStemmer.Nltk.Stem(word));
    }

    [Theory]
    [InlineData("caresses", "caress")]
    [InlineData("agreed", "agre")]
    [InlineData("generalization", "gener")]
    [InlineData("jumps", "jump")]
    [InlineData("lazy", "lazi")]
    [InlineData("running", "run")]
    public void Nltk_mode_agrees_with_the_paper_on_ordinary_words(string word, string stem) =>
        Assert.Equal(stem, PorterStemmer.Nltk.Stem(word));
}
