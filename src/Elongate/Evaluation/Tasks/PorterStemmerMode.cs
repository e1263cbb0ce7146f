namespace Elongate.Evaluation.Tasks;

/// <summary>The variants of the Porter stemmer that NLTK's PorterStemmer offers (its <c>mode</c> argument).</summary>
public enum PorterStemmerMode
{
    /// <summary>Porter (1980), "An algorithm for suffix stripping", exactly as published (NLTK ORIGINAL_ALGORITHM).</summary>
    Original,

    /// <summary>The changes Martin Porter made in his own later implementations (NLTK MARTIN_EXTENSIONS): -bli→-ble instead of -abli→-able, -logi→-log, words of one or two letters left alone.</summary>
    MartinExtensions,

    /// <summary>NLTK's default (NLTK_EXTENSIONS): Martin's changes plus a table of irregular forms, -ies/-ied of four-letter words → -ie, y→i only after a consonant, -alli/-fulli rules and the two-letter *o condition. What rouge-score's <c>use_stemmer=True</c> runs.</summary>
    NltkExtensions,
}
