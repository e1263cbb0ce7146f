namespace Elongate.Data;

/// <summary>The kinds of synthetic retrieval document <see cref="RetrievalDocuments"/> writes.</summary>
public enum RetrievalKind
{
    /// <summary>The passkey probe's task line, filler, the needle at a random depth, the question and the key.</summary>
    Passkey,
    /// <summary>Many "The code for Name is 12345." pairs spread through filler, then a query for one of them and its value.</summary>
    KeyValue,
    /// <summary>A passage of one to three sentences, filler, then the same passage again.</summary>
    RepeatedPassage,
    /// <summary>Consecutive book text, then the first-sentence question and the text's first sentence.</summary>
    FirstSentence,
    /// <summary>A list of random codes and made-up names, filler, then the same list again: every token of the second copy is predictable only by copying.</summary>
    CopyList,
    /// <summary>
    /// Random pieces of the vocabulary (random letters without a tokenizer), " | ", then the same pieces: the repeated
    /// random tokens of the induction test (Olsson et al. 2022) as a training document, a copy over the whole vocabulary.
    /// </summary>
    RandomPieces,
}
