using System.CommandLine;
using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate tokenize --tokenizer T (--text S | --file F) [--no-bos] [--special]`: prints the ids, space-separated.
/// BOS is added when the vocabulary says so (GGUF add_bos_token; SentencePiece always). With --special, control tokens
/// written in the text ("&lt;|eot_id|&gt;") become their ids (llama-tokenize's --parse-special).
/// With --decode, --text holds ids (space- or comma-separated) and the decoded text is printed.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer", "-z") { Description = "tokenizer.model, llama2.c tokenizer.bin, Hugging Face tokenizer.json (or its folder), or any GGUF with a vocabulary (a model or llama.cpp's vocabulary-only files)", Required = true };
        var text = new Option<string?>("--text") { Description = "Text to encode (or, with --decode, the ids to decode)" };
        var file = new Option<string?>("--file") { Description = "UTF-8 file to encode (a BOM is kept as U+FEFF, as it is text)" };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not start with the BOS id (default: as the vocabulary says)" };
        var special = new Option<bool>("--special") { Description = "Encode control tokens written in the text as their ids; with --decode, print control tokens' text" };
        var decode = new Option<bool>("--decode") { Description = "Decode the ids given in --text instead of encoding" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = "tokenizer.bin only: the model's vocab_size (default: read to end of file)" };
        var cmd = new Command("tokenize", "Encode text to Llama token ids, or decode ids to text") { tokenizer, text, file, noBos, special, decode, vocabSize };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            string? t = parse.GetValue(text), f = parse.GetValue(file);
            if ((t is null) == (f is null) || (parse.GetValue(decode) && t is null))
            {
                stderr.WriteLine(parse.GetValue(decode) ? "tokenize --decode: give the ids with --text" : "tokenize: give exactly one of --text or --file");
                return 2;
            }
            try
            {
                var tok = TokenizerLoader.Load(parse.GetValue(tokenizer)!, parse.GetValue(vocabSize));
                if (parse.GetValue(decode))
                {
                    var parts = t!.Split([' ', ',', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
                    var ids = new int[parts.Length];
                    for (int i = 0; i < parts.Length; i++)
                    {
                        if (!int.TryParse(parts[i], out ids[i]) || (uint)ids[i] >= (uint)tok.Vocabulary.Count)
                        {
                            stderr.WriteLine($"tokenize --decode: '{parts[i]}' is not an id of the {tok.Vocabulary.Count}-piece vocabulary");
                            return 2;
                        }
                    }
                    if (parse.GetValue(special))
                    {
                        var bytes = new List<byte>();
                        foreach (var id in ids) bytes.AddRange(tok.TokenBytes(id, special: true));
                        stdout.WriteLine(Encoding.UTF8.GetString(bytes.ToArray()));
                    }
                    else stdout.WriteLine(tok.Decode(ids));
                    return 0;
                }
                var input = t ?? Encoding.UTF8.GetString(File.ReadAllBytes(f!));
                bool bos = tok.Vocabulary.AddBos && tok.Vocabulary.BosId >= 0 && !parse.GetValue(noBos);
                stdout.WriteLine(string.Join(' ', tok.Encode(input, addBos: bos, addEos: false, parseSpecial: parse.GetValue(special))));
                return 0;
            }
            catch (ModelFormatException e)
            {
                stderr.WriteLine(e.Message);
                return 1;
            }
            catch (IOException e)
            {
                stderr.WriteLine($"tokenize: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
