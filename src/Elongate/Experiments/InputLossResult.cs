using Elongate.Data;
using Elongate.Evaluation.Tasks;

namespace Elongate.Experiments;

/// <summary>The QA documents: counts, sizes in tokens, and where the held-out facts sit.</summary>
/// <param name="Train">Training documents given to self-instruct.</param>
/// <param name="TrainMeanTokens">Their mean length.</param>
/// <param name="Test">Held-out documents (one question each).</param>
/// <param name="TestMeanTokens">Their mean length.</param>
/// <param name="MinTokens">Target size range, lower end.</param>
/// <param name="MaxTokens">Upper end.</param>
/// <param name="TestFactsInFirstHalf">Held-out facts before half of the largest size.</param>
/// <param name="TestFactsInSecondHalf">The others.</param>
public sealed record InputLossDocuments(int Train, double TrainMeanTokens, int Test, double TestMeanTokens, int MinTokens, int MaxTokens,
    int TestFactsInFirstHalf, int TestFactsInSecondHalf);

/// <summary>One held-out answer shown in the report.</summary>
public sealed record InputLossSample(string Id, string Reference, string Prediction, double Score);

/// <summary>One evaluated model: how it was tuned and its held-out scores.</summary>
/// <param name="Name">base, answers or answers+input.</param>
/// <param name="Description">What it is.</param>
/// <param name="Examples">Tuning examples (null for the base).</param>
/// <param name="LossTokens">Tokens carrying loss in the tuning data.</param>
/// <param name="Tokens">Tokens of the tuning data.</param>
/// <param name="Steps">Tuning steps.</param>
/// <param name="FinalLoss">Tuning loss of the last step (over that model's own loss tokens, so not comparable between the two).</param>
/// <param name="TuneSeconds">Tuning wall time.</param>
/// <param name="EvalSeconds">Evaluation wall time.</param>
/// <param name="Score">Mean harness score: SQuAD token F1 of the reply against the value.</param>
/// <param name="Lower">Its 95% bootstrap interval, lower end.</param>
/// <param name="Upper">Upper end.</param>
/// <param name="ValueScore">Share of replies whose value (the word after "is", else the first word) is the answer: a stricter reading.</param>
/// <param name="ValueLower">Its interval, lower end.</param>
/// <param name="ValueUpper">Upper end.</param>
/// <param name="RepliesNamingAValue">Replies whose value is one of the sixteen (right or wrong): whether the model learned the answer form.</param>
/// <param name="Ids">Question ids, in the order of <paramref name="Scores"/>.</param>
/// <param name="Scores">Per-question token F1.</param>
/// <param name="Values">Per-question value match.</param>
/// <param name="Samples">The first answers.</param>
/// <param name="GenerationSeconds">The harness's generation time.</param>
/// <param name="Truncated">Questions whose document the harness had to cut to fit the context (0 by construction: documents are sized to fit).</param>
public sealed record InputLossModel(string Name, string Description, int? Examples, long? LossTokens, long? Tokens, int? Steps, float? FinalLoss,
    double TuneSeconds, double EvalSeconds, double Score, double Lower, double Upper, double ValueScore, double ValueLower, double ValueUpper,
    int RepliesNamingAValue, IReadOnlyList<string> Ids, IReadOnlyList<double> Scores, IReadOnlyList<double> Values, IReadOnlyList<InputLossSample> Samples,
    double GenerationSeconds, int Truncated);

/// <summary>Everything results.json holds.</summary>
/// <param name="Difference">answers+input − answers on the harness score (paired bootstrap over questions).</param>
/// <param name="ValueDifference">The same on the value match.</param>
public sealed record InputLossResult(InputLossOptions Settings, string Corpus, string BaseModel, string ModelSummary, SelfInstructReport SelfInstruct,
    InputLossDocuments Documents, IReadOnlyList<InputLossModel> Models, TaskComparisonRow Difference, TaskComparisonRow ValueDifference, string Conclusion,
    IReadOnlyDictionary<string, double> PhaseSeconds, double TotalSeconds);
