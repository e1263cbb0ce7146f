using Elongate.Data;
using Elongate.Formats;
using Elongate.Tokenization;

namespace Elongate.Tests.Data;

/// <summary>
/// <see cref="InstructionRenderer"/>: token-by-token role labels on rendered conversations with a SentencePiece
/// vocabulary (Phi-3's, its own template; Llama 2's with llama2-chat and gemma) and a byte-level BPE one (deepseek-llm's
/// with the ChatML specials added), and the loss masks they give under both <see cref="LossTokens"/> settings.
/// </summary>
public class InstructionRendererTests
{
    private const TokenRole T = TokenRole.Template, S = TokenRole.System, U = TokenRole.User, A = TokenRole.Assistant;

    private static ITokenizer Phi3() => TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));

    private static ITokenizer Llama2() => TokenizerLoader.Load(Fixtures.Path("tokenizers/tokenizer.model"));

    /// <summary>deepseek-llm's byte-level BPE vocabulary plus ChatML's two control tokens, as a ChatML fine-tune adds them.</summary>
    private static ITokenizer DeepSeekChatMl()
    {
        var v = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-deepseek-llm.gguf"));
        return new ByteLevelBpe(v with
        {
            Pieces = [.. v.Pieces, "<|im_start|>", "<|im_end|>"],
            Scores = [.. v.Scores, 0f, 0f],
            Types = [.. v.Types, TokenType.Control, TokenType.Control],
        });
    }

    /// <summary>
    /// Renders with the public method, which lines token texts up with the rendered text, and checks that tokenizing
    /// prefixes (its fallback) labels every token the same.
    /// </summary>
    private static LabeledExample Render(InstructionExample e, ITokenizer tok, ChatTemplate template)
    {
        var l = InstructionRenderer.Render(e, tok, template);
        var byPrefixes = InstructionRenderer.Render(e, tok, template, byPieces: false);
        Assert.Equal(l.Tokens, byPrefixes.Tokens);
        Assert.Equal(l.Roles, byPrefixes.Roles);
        return l;
    }

    private static InstructionExample Example(params (string Role, string Content)[] turns) =>
        new("chat.jsonl:7", [.. turns.Select(t => new ChatTurn(t.Role, t.Content))]);

    private static readonly InstructionExample Dialogue = Example(
        ("system", "Be brief."), ("user", "Hello there"), ("assistant", "Hi! How can I help?"), ("user", "user"), ("assistant", "Fine, thanks."));

    private static TokenRole[] Roles(string letters) => [.. letters.Select(c => c switch { 'T' => T, 'S' => S, 'U' => U, 'A' => A, _ => throw new ArgumentException(c.ToString()) })];

    /// <summary>The maximal runs of equal non-template roles, each with its tokens.</summary>
    private static List<(TokenRole Role, int[] Tokens)> Runs(LabeledExample l)
    {
        var runs = new List<(TokenRole, int[])>();
        for (int i = 0; i < l.Length;)
        {
            int j = i;
            while (j < l.Length && l.Roles[j] == l.Roles[i]) j++;
            if (l.Roles[i] != T) runs.Add((l.Roles[i], l.Tokens[i..j]));
            i = j;
        }
        return runs;
    }

    /// <summary>
    /// Each message's tokens decode to its content, in order, and each assistant run ends with the end-of-turn id; the
    /// tokens are the one tokenization of the rendered text.
    /// </summary>
    private static void AssertRunsAreTheMessages(LabeledExample l, InstructionExample e, ITokenizer tok, ChatTemplate template, int endOfTurn, Func<string, string>? expect = null)
    {
        var text = template.Apply(e.Messages, addAssistantPrompt: false);
        Assert.Equal(tok.Encode(text, addBos: tok.Vocabulary.AddBos, addEos: false, parseSpecial: true), l.Tokens);
        var runs = Runs(l);
        Assert.Equal(e.Messages.Select(m => InstructionRenderer.RoleOf(m.Role)), runs.Select(r => r.Role));
        for (int i = 0; i < runs.Count; i++)
        {
            var tokens = runs[i].Tokens;
            if (runs[i].Role == A)
            {
                Assert.Equal(endOfTurn, tokens[^1]);
                tokens = tokens[..^1];
            }
            Assert.Equal((expect ?? (s => s))(e.Messages[i].Content), tok.Decode(tokens));
        }
    }

    [SkippableFact]
    public void Phi3_sentencepiece_labels_every_token()
    {
        var tok = Phi3();
        var template = ChatTemplate.Resolve(null, tok.Vocabulary.ChatTemplate, "phi-3");
        Assert.Equal("phi3", template.Name);
        var l = Render(Dialogue, tok, template);
        Assert.Equal("chat.jsonl:7", l.Id);
        // <s> <|system|> Be brief . <|end|> <|user|> Hello there <|end|> <|assistant|> Hi ! How can I help ? <|end|>
        // <|user|> user <|end|> <|assistant|> Fine , thanks . <|end|>   (the "\n" after each special token is swallowed)
        Assert.Equal(Roles("TTSSSTTUUTTAAAAAAAATUTTAAAAA"), l.Roles);
        int end = Array.IndexOf(tok.Vocabulary.Pieces, "<|end|>");
        AssertRunsAreTheMessages(l, Dialogue, tok, template, end);
        // Template tokens are exactly the BOS and the role and end markers around non-assistant turns.
        Assert.Equal(["<s>", "<|system|>", "<|end|>", "<|user|>", "<|end|>", "<|assistant|>", "<|user|>", "<|end|>", "<|assistant|>"],
            l.Tokens.Where((_, i) => l.Roles[i] == T).Select(id => tok.Vocabulary.Pieces[id]));
    }

    [SkippableFact]
    public void Loss_masks_take_exactly_the_answer_tokens_or_answers_and_input_never_the_template()
    {
        var tok = Phi3();
        var template = ChatTemplate.FromName("phi3");
        var l = Render(Dialogue, tok, template);
        var pieces = tok.Vocabulary.Pieces;
        foreach (var loss in new[] { LossTokens.Answers, LossTokens.AnswersAndInput })
        {
            var row = FineTuneSequenceBuilder.Build([l], new FineTuneSequenceOptions { SeqLen = l.Length + 3, Loss = loss, Shuffle = false }).Sequences.Single();
            var trained = Enumerable.Range(0, l.Length).Where(i => row.Targets[i] != FineTuneSequence.IgnoreIndex).ToArray();
            // Position i is trained exactly when the token it predicts (i + 1) carries loss, and its target is that token.
            Assert.Equal(Enumerable.Range(0, l.Length - 1).Where(i => loss == LossTokens.Answers ? l.Roles[i + 1] == A : l.Roles[i + 1] != T), trained);
            foreach (var i in trained) Assert.Equal(l.Tokens[i + 1], row.Targets[i]);
            var predicted = trained.Select(i => pieces[row.Targets[i]]).ToArray();
            string[] answers = ["▁Hi", "!", "▁How", "▁can", "▁I", "▁help", "?", "<|end|>", "▁Fine", ",", "▁thanks", ".", "<|end|>"];
            Assert.Equal(loss == LossTokens.Answers ? answers
                : ["▁Be", "▁brief", ".", "▁Hello", "▁there", .. answers[..8], "▁user", .. answers[8..]], predicted);
            Assert.All(row.Targets[l.Length..], t => Assert.Equal(FineTuneSequence.IgnoreIndex, t));
        }
    }

    [SkippableFact]
    public void Llama2_chat_sentencepiece_labels_every_token_and_a_word_that_straddles_goes_to_the_later_span()
    {
        var tok = Llama2();
        var template = ChatTemplate.FromName("llama2");
        var l = Render(Dialogue, tok, template);
        // "[INST] Be brief.\nHello there [/INST]Hi! How can I help?</s>[INST] user [/INST]Fine, thanks.</s>":
        // <s> ▁[ INST ] | ▁Be ▁brief . | \n | Hello ▁there | ▁[ / INST ] | Hi … ? </s> | ▁[ INST ] | ▁user | ▁[ / INST ] | F ine , ▁thanks . </s>
        // "▁user" starts with the template's space and ends in the user's word: it is the user's.
        Assert.Equal(Roles("TTTTSSSTUUTTTTAAAAAAAATTTUTTTTAAAAAA"), l.Roles);
        Assert.Equal("▁user", tok.Vocabulary.Pieces[l.Tokens[25]]);
        AssertRunsAreTheMessages(l, Dialogue, tok, template, tok.Vocabulary.EosId);
    }

    [SkippableFact]
    public void A_trimming_template_that_folds_the_system_turn_into_the_user_turn()
    {
        var tok = Llama2();
        var template = ChatTemplate.FromName("gemma");
        var e = Example(("system", " Be brief. "), ("user", "\n Hello there  "), ("assistant", "  Hi!\n"));
        var l = Render(e, tok, template);
        Assert.Equal("<start_of_turn>user\nBe brief.\n\nHello there<end_of_turn>\n<start_of_turn>model\nHi!<end_of_turn>\n",
            template.Apply(e.Messages, false));
        var runs = Runs(l);
        Assert.Equal([S, U, A], runs.Select(r => r.Role));
        Assert.Equal("Be brief.", tok.Decode(runs[0].Tokens));
        Assert.Equal("Hello there", tok.Decode(runs[1].Tokens));
        // The marker is plain text in this vocabulary, still the answer's.
        Assert.Equal("Hi!<end_of_turn>", tok.Decode(runs[2].Tokens));
    }

    [SkippableFact]
    public void Byte_level_bpe_with_chatml_labels_every_token()
    {
        var tok = DeepSeekChatMl();
        var template = ChatTemplate.FromName("chatml");
        int imEnd = tok.Vocabulary.Count - 1;
        var l = Render(Dialogue, tok, template);
        AssertRunsAreTheMessages(l, Dialogue, tok, template, imEnd);
        Assert.Equal(tok.Vocabulary.BosId, l.Tokens[0]);
        // "user" as the content of a user turn is not confused with the role name the template writes before it.
        var e = Example(("user", "user"), ("assistant", "assistant"), ("user", "<|im_start|>"), ("assistant", "system\n"));
        var l2 = Render(e, tok, template);
        var runs = Runs(l2);
        Assert.Equal([U, A, U, A], runs.Select(r => r.Role));
        Assert.Equal("user", tok.Decode(runs[0].Tokens));
        Assert.Equal([.. tok.Encode("assistant", false, false), imEnd], runs[1].Tokens);
        Assert.Equal([imEnd - 1], runs[2].Tokens); // special text in a content is parsed as the special token, as in the whole rendering
        Assert.Equal([.. tok.Encode("system\n", false, false), imEnd], runs[3].Tokens);
        // Template tokens: BOS, then <|im_start|> role \n before each turn and <|im_end|> \n after the non-answers.
        Assert.Equal("<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n\n",
            string.Concat(l2.Tokens.Where((_, i) => l2.Roles[i] == T).Skip(1).Select(id => System.Text.Encoding.UTF8.GetString(tok.TokenBytes(id, special: true)))));
    }

    [SkippableFact]
    public void A_token_across_a_boundary_goes_to_the_later_span()
    {
        var tok = DeepSeekChatMl();
        var template = ChatTemplate.FromName("vicuna");
        // "USER: x\nASSISTANT: ok</s>\n": the byte-level pre-tokenizer makes " x" and " ok" single tokens whose space is
        // the template's; each ends inside the message, so it is the message's. "</s>" is plain text in this vocabulary
        // (three tokens), still the answer's end marker.
        var e = Example(("user", "x"), ("assistant", "ok"));
        var l = Render(e, tok, template);
        Assert.Equal("USER: x\nASSISTANT: ok</s>\n", template.Apply(e.Messages, false));
        var runs = Runs(l);
        Assert.Equal([U, A], runs.Select(r => r.Role));
        Assert.Equal(tok.Encode(" x", false, false), runs[0].Tokens);
        Assert.Single(runs[0].Tokens);
        Assert.Equal(tok.Encode(" ok</s>", false, false), runs[1].Tokens);
        Assert.Equal("\n", tok.Decode(l.Tokens[^1..]));
        Assert.Equal(T, l.Roles[^1]);
    }

    [SkippableFact]
    public void A_role_the_template_has_is_input_and_one_it_lacks_is_an_error_naming_the_example()
    {
        var e = Example(("user", "What is 2+2?"), ("tool", "calculator says 4"), ("assistant", "4"));
        var tok = DeepSeekChatMl();
        var l = Render(e, tok, ChatTemplate.FromName("chatml"));
        Assert.Equal([U, U, A], Runs(l).Select(r => r.Role));
        Assert.Equal("calculator says 4", tok.Decode(Runs(l)[1].Tokens));

        var error = Assert.Throws<InstructionDataException>(() => Render(e, Llama2(), ChatTemplate.FromName("llama2")));
        Assert.StartsWith("chat.jsonl:7: ", error.Message);
        Assert.Contains("'tool'", error.Message);
        Assert.Contains("llama2", error.Message);
        Assert.Equal(7, error.LineNumber);
    }

    [SkippableFact]
    public void Content_with_the_placeholder_characters_is_found_by_search()
    {
        var tok = DeepSeekChatMl();
        var template = ChatTemplate.FromName("chatml");
        var e = Example(("user", "odd \uE000 text"), ("assistant", "fine \uE001"));
        var runs = Runs(Render(e, tok, template));
        Assert.Equal([U, A], runs.Select(r => r.Role));
        Assert.Equal("odd \uE000 text", tok.Decode(runs[0].Tokens));
        Assert.Equal("fine \uE001", tok.Decode(runs[1].Tokens[..^1]));
    }

    [SkippableFact]
    public void Tokenize_gives_the_tokens_of_render()
    {
        var tok = Phi3();
        var template = ChatTemplate.FromName("phi3");
        Assert.Equal(InstructionRenderer.Render(Dialogue, tok, template).Tokens, InstructionRenderer.Tokenize(Dialogue, tok, template));
    }
}
