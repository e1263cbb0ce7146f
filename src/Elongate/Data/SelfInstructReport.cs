using System.Text.Json;
using System.Text.Json.Serialization;

namespace Elongate.Data;

/// <summary>
/// What a self-instruct run did. Counts of this run are of the work items it processed (items done by an earlier
/// run that this one resumed are in <see cref="Resumed"/>); <see cref="KeptTotal"/> is the lines of the output file.
/// </summary>
public sealed record SelfInstructReport
{
    /// <summary>Documents used.</summary>
    public int Documents { get; init; }

    /// <summary>Documents left out by --exclude.</summary>
    public IReadOnlyList<string> Excluded { get; init; } = [];

    /// <summary>Documents shorter than one chunk (their single chunk is the whole document).</summary>
    public int ShortDocuments { get; init; }

    /// <summary>Chunks drawn over all documents.</summary>
    public int Chunks { get; init; }

    /// <summary>Work items (chunk × kind) in all.</summary>
    public int WorkItems { get; init; }

    /// <summary>Work items skipped because an earlier run had done them.</summary>
    public int Resumed { get; init; }

    /// <summary>Teacher replies received for the generation prompt.</summary>
    public int Generated { get; init; }

    /// <summary>
    /// Rejected items by reason: parse, length, self-check, duplicate (the same question once normalized),
    /// near-duplicate (word 3-gram Jaccard at or above <see cref="SelfInstructOptions.NearDuplicateThreshold"/>), teacher-error.
    /// </summary>
    public IReadOnlyDictionary<string, int> Rejected { get; init; } = new Dictionary<string, int>();

    /// <summary>Examples kept by this run.</summary>
    public int Kept { get; init; }

    /// <summary>Examples in the output file after this run.</summary>
    public int KeptTotal { get; init; }

    /// <summary>Kept examples whose answer quotes no three consecutive words of the chunk (flagged, not removed).</summary>
    public int Unquoted { get; init; }

    /// <summary>Answer lengths of the examples kept by this run, in student tokens.</summary>
    public LengthReport AnswerTokens { get; init; } = LengthReport.From([]);

    /// <summary>Where the evidence sits in the example's document: ten bins of the chunk's relative start, over this run's kept examples.</summary>
    public IReadOnlyList<int> EvidencePositionHistogram { get; init; } = new int[10];

    /// <summary>Tokens the teacher produced (as its usage reports them; 0 when it does not).</summary>
    public long TeacherOutputTokens { get; init; }

    /// <summary>Documents that share 13-word sequences with a file of the contamination-check folder (a warning; they are still used).</summary>
    public IReadOnlyList<SelfInstructOverlap> Contamination { get; init; } = [];

    /// <summary>True when the run was cancelled before deciding every item (a rerun resumes it).</summary>
    public bool Interrupted { get; init; }

    /// <summary>Generation requests asked again without response_format after the endpoint refused JSON mode (HTTP 400); JSON mode is off after the first.</summary>
    public int JsonModeFallbacks { get; init; }

    /// <summary>Things the user should know about the run (e.g. JSON mode refused by the endpoint).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Seconds the run took.</summary>
    public double Seconds { get; init; }

    /// <summary>The output file.</summary>
    public string Output { get; init; } = "";

    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never };
}
