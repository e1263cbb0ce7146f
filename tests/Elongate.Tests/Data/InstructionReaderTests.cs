using Elongate.Common;
using Elongate.Data;
using Elongate.Tokenization;

namespace Elongate.Tests.Data;

/// <summary>
/// <see cref="InstructionReader"/>: each JSON Lines format becomes the conversation it stands for, ids are "file:line",
/// and every bad line is an error naming its line — reading stops there instead of skipping it.
/// </summary>
public sealed class InstructionReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-instr").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private static InstructionExample One(string line) => InstructionReader.Read(new StringReader(line), "t.jsonl").Single();

    private static ChatTurn[] Turns(params (string Role, string Content)[] t) => [.. t.Select(x => new ChatTurn(x.Role, x.Content))];

    [Fact]
    public void Chat_format_with_string_content()
    {
        var e = One("""{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"Bye"},{"role":"assistant","content":"Bye!"}]}""");
        Assert.Equal("t.jsonl:1", e.Id);
        Assert.Equal(Turns(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello!"), ("user", "Bye"), ("assistant", "Bye!")), e.Messages);
    }

    [Fact]
    public void Chat_format_with_text_parts_and_extra_keys()
    {
        var e = One("""{"prompt":"ignored","id":7,"messages":[{"role":"User","content":[{"type":"text","text":"Look: "},{"type":"text","text":"é 🎉"}]},{"role":"assistant","content":"Seen.","weight":1}]}""");
        Assert.Equal(Turns(("user", "Look: é 🎉"), ("assistant", "Seen.")), e.Messages);
    }

    [Fact]
    public void ShareGpt_format()
    {
        var e = One("""{"conversations":[{"from":"system","value":"S"},{"from":"human","value":"Q"},{"from":"gpt","value":"A"}]}""");
        Assert.Equal(Turns(("system", "S"), ("user", "Q"), ("assistant", "A")), e.Messages);
    }

    [Fact]
    public void Alpaca_format_with_and_without_input_and_system()
    {
        Assert.Equal(Turns(("user", "Add the numbers.\n\n2 and 3"), ("assistant", "5")),
            One("""{"instruction":"Add the numbers.","input":"2 and 3","output":"5"}""").Messages);
        Assert.Equal(Turns(("user", "Say hi."), ("assistant", "hi")), One("""{"instruction":"Say hi.","input":"","output":"hi"}""").Messages);
        Assert.Equal(Turns(("user", "Say hi."), ("assistant", "hi")), One("""{"instruction":"Say hi.","output":"hi"}""").Messages);
        Assert.Equal(Turns(("system", "You are terse."), ("user", "Say hi."), ("assistant", "hi")),
            One("""{"system":"You are terse.","instruction":"Say hi.","input":null,"output":"hi"}""").Messages);
    }

    [Fact]
    public void Prompt_completion_format_plain_and_conversational()
    {
        Assert.Equal(Turns(("user", "2+2="), ("assistant", "4")), One("""{"prompt":"2+2=","completion":"4"}""").Messages);
        Assert.Equal(Turns(("system", "S"), ("user", "Q"), ("assistant", "A")),
            One("""{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"Q"}],"completion":[{"role":"assistant","content":"A"}]}""").Messages);
    }

    [Fact]
    public void A_file_mixes_formats_skips_blank_lines_and_names_examples_by_line()
    {
        var path = Write("mixed.jsonl",
            """{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}""",
            "",
            """{"instruction":"c","output":"d"}""",
            "   ",
            """{"prompt":"e","completion":"f"}""");
        var all = InstructionReader.Read(path).ToList();
        Assert.Equal(["mixed.jsonl:1", "mixed.jsonl:3", "mixed.jsonl:5"], all.Select(e => e.Id));
        Assert.Equal(["b", "d", "f"], all.Select(e => e.Messages[^1].Content));
    }

    [Fact]
    public void A_malformed_line_3_of_5_is_an_error_naming_line_3_after_lines_1_and_2_and_nothing_after()
    {
        var good = """{"prompt":"p","completion":"c"}""";
        var path = Write("bad.jsonl", good, good, """{"prompt":"p","completion": """, good, good);
        var seen = new List<string>();
        var e = Assert.Throws<InstructionDataException>(() => { foreach (var x in InstructionReader.Read(path)) seen.Add(x.Id); });
        Assert.Equal(["bad.jsonl:1", "bad.jsonl:2"], seen);
        Assert.Equal(3, e.LineNumber);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("not valid JSON", e.Message);
        Assert.IsAssignableFrom<ModelFormatException>(e);
    }

    public static TheoryData<string, string> BadLines() => new()
    {
        { "[1,2]", "is an array in JSON, not an object" },
        { """{"text":"a document"}""", "is not an instruction example" },
        { """{"instruction":"x"}""", "has no \"output\"" },
        { """{"instruction":"x","output":"  "}""", "\"output\" of Alpaca example is empty" },
        { """{"instruction":"x","output":5}""", "\"output\" of Alpaca example is a number, not a string" },
        { """{"instruction":"x","input":3,"output":"y"}""", "\"input\" is a number, not a string" },
        { """{"prompt":"x"}""", "no \"completion\"" },
        { """{"prompt":"x","completion":""}""", "\"completion\" of prompt/completion example is empty" },
        { """{"prompt":[{"role":"user","content":"q"}],"completion":"a"}""", "both must be lists or both strings" },
        { """{"messages":"hi"}""", "\"messages\" is a string, not an array" },
        { """{"messages":[]}""", "\"messages\" is empty" },
        { """{"messages":[{"role":"user","content":"q"},{"role":"assistant"}]}""", "messages[1] (assistant) has no \"content\"" },
        { """{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":null}]}""", "messages[1].content is null, not a string" },
        { """{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":""}]}""", "messages[1].content is empty" },
        { """{"messages":[{"content":"q"},{"role":"assistant","content":"a"}]}""", "messages[0] has no \"role\"" },
        { """{"messages":[{"role":1,"content":"q"},{"role":"assistant","content":"a"}]}""", "\"role\" of messages[0] is a number" },
        { """{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]},{"role":"assistant","content":"a"}]}""", "is a \"image_url\" part; only text parts" },
        { """{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"}]}""", "has no assistant turn" },
        { """{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"more?"}]}""", "ends with a 'user' turn; the last turn must be the assistant's answer" },
        { """{"conversations":[{"from":"human","value":"q"}]}""", "has no assistant turn" },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public void A_bad_line_is_an_error_that_says_what_and_where(string line, string expected)
    {
        var good = """{"prompt":"p","completion":"c"}""";
        var path = Write("data.jsonl", good, "", good, line);
        var e = Assert.Throws<InstructionDataException>(() => InstructionReader.Read(path).ToList());
        Assert.Equal(4, e.LineNumber);
        Assert.StartsWith($"{path}: line 4: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_file_fails_at_the_call()
    {
        Assert.Throws<FileNotFoundException>(() => InstructionReader.Read(Path.Combine(_dir, "none.jsonl")));
    }
}
