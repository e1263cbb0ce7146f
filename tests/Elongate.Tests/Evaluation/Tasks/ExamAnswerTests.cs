using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

// References are real ones from L-Eval's closed-ended files (tpo "C", coursera "AC"/"BD", sci_fi "True [fact: False]",
// gsm100 "18", topic_retrieval_longchat "The role of art in society"); the replies show L-Eval's reading rules.
public class ExamAnswerTests
{
    [Theory]
    [InlineData("C", 1.0, "C")]
    [InlineData(" C. to paint farm animals in an outdoor setting", 1.0, "C")]
    [InlineData("The answer is (D)", 0.0, "D")]          // first capital A–D anywhere…
    [InlineData("Answer: C", 0.0, "A")]                  // …which, as in L-Eval, can be the A of "Answer"
    [InlineData("BC", 0.0, "BC")]                        // a run of "ABCD" is taken whole
    public void Letter_reads_the_first_option_letter(string reply, double value, string extracted) =>
        Assert.Equal(new TaskScore(value, true, extracted), ExamAnswer.Score(ExamFormat.Letter, reply, "C"));

    [Theory]
    [InlineData("")]
    [InlineData("none of them is right")]
    public void Letter_without_any_option_letter_is_unparsed(string reply)
    {
        var s = ExamAnswer.Score(ExamFormat.Letter, reply, "C");
        Assert.False(s.Parsed);
        Assert.Equal(0, s.Value);
        Assert.Null(s.Extracted);
    }

    [Theory]
    [InlineData("AC", "AC", 1.0, "AC")]
    [InlineData("CA.", "AC", 1.0, "AC")]                 // leading letters as a sorted set
    [InlineData("A and C.", "AC", 1.0, "AC")]            // leading letter + capitals followed by '.', ')' or a space
    [InlineData("The answers are B. and D)", "BD", 1.0, "BD")]
    [InlineData("A", "AC", 0.25, "A")]                   // some, not all, correct options: L-Eval's 0.25
    [InlineData("ABC", "AC", 0.0, "ABC")]                // a wrong option among them: 0
    [InlineData("B\nQuestion 2. C. D.", "BD", 0.25, "B")] // nothing after "Question" counts
    public void Letters_reads_several_options_as_a_set(string reply, string reference, double value, string extracted) =>
        Assert.Equal(new TaskScore(value, true, extracted), ExamAnswer.Score(ExamFormat.Letters, reply, reference));

    [Fact]
    public void Letters_without_a_readable_option_is_unparsed()
    {
        // "I" is a capital followed by a space but not an option; the final A has nothing after it (L-Eval's lookahead).
        Assert.Equal(TaskScore.Unparsed, ExamAnswer.Score(ExamFormat.Letters, "I think A", "AC"));
        Assert.Equal(TaskScore.Unparsed, ExamAnswer.Score(ExamFormat.Letters, "", "AC"));
    }

    [Theory]
    [InlineData("True", "True [fact: False]", 1.0, "true")]
    [InlineData("False.", "True [fact: False]", 0.0, "false")]
    [InlineData("FALSE, the document says otherwise", "False [fact: True]", 1.0, "false")]
    [InlineData("That is untrue", "True [fact: False]", 1.0, "true")]   // L-Eval: first word *containing* true/false
    [InlineData("False [fact: True]", "True [fact: False]", 0.0, "false")] // the fact part of a reply is not read
    public void TrueFalse_compares_the_first_true_or_false_with_the_references_loyalty_part(string reply, string reference, double value, string extracted) =>
        Assert.Equal(new TaskScore(value, true, extracted), ExamAnswer.Score(ExamFormat.TrueFalse, reply, reference));

    [Fact]
    public void TrueFalse_without_true_or_false_is_unparsed() =>
        Assert.Equal(TaskScore.Unparsed, ExamAnswer.Score(ExamFormat.TrueFalse, "I cannot tell [fact: true]", "True [fact: False]"));

    [Theory]
    [InlineData("16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. The answer is 18.", "18", 1.0, "18")]
    [InlineData("She makes $18 every day", "18", 1.0, "18")]              // last word with a digit
    [InlineData("The answer is $1,250.50", "1250", 1.0, "1250")]          // digits up to the first '.'
    [InlineData("She keeps 5.\n\nSo she makes 18", "18", 0.0, "5")]       // only the first paragraph is searched
    [InlineData("018", "18", 1.0, "018")]                                 // compared as numbers
    [InlineData("The answer is 3", "18", 0.0, "3")]
    public void Number_reads_the_answer_as_l_evals_process_math(string reply, string reference, double value, string extracted) =>
        Assert.Equal(new TaskScore(value, true, extracted), ExamAnswer.Score(ExamFormat.Number, reply, reference));

    [Theory]
    [InlineData("eighteen")]
    [InlineData("")]
    [InlineData("The answer is unclear")]
    public void Number_without_digits_is_unparsed(string reply) =>
        Assert.Equal(TaskScore.Unparsed, ExamAnswer.Score(ExamFormat.Number, reply, "18"));

    [Theory]
    [InlineData("The role of art in society", 1.0, "The role of art in society")]
    [InlineData("\nThe Role of Art  in Society.\nThen we discussed tourism", 1.0, "The Role of Art  in Society.")]
    [InlineData("x\nThe first topic was the role of art in society", 1.0, "The first topic was the role of art in society")]
    [InlineData("Art in society", 0.0, "Art in society")]
    [InlineData("The future of space tourism\nThe role of art in society", 0.0, "The future of space tourism")]
    public void Text_needs_the_reference_inside_the_first_real_line(string reply, double value, string extracted) =>
        Assert.Equal(new TaskScore(value, true, extracted), ExamAnswer.Score(ExamFormat.Text, reply, "The role of art in society"));

    [Theory]
    [InlineData("42", "42.0", 1.0)]
    [InlineData(" 42\n", "42", 1.0)]
    [InlineData("142", "42", 0.0)]   // numbers compare as numbers, so no substring match
    [InlineData("42 topics", "42", 1.0)]
    public void Text_numbers_compare_as_numbers_first(string reply, string reference, double value) =>
        Assert.Equal(value, ExamAnswer.Score(ExamFormat.Text, reply, reference).Value);

    [Theory]
    [InlineData("")]
    [InlineData(" \n\t")]
    public void Text_empty_reply_is_unparsed(string reply) =>
        Assert.Equal(TaskScore.Unparsed, ExamAnswer.Score(ExamFormat.Text, reply, "The role of art in society"));

    [Theory]
    [InlineData("/data/leval/closed-ended/tpo.jsonl", "C", ExamFormat.Letter)]
    [InlineData("quality.jsonl", "B", ExamFormat.Letter)]
    [InlineData("coursera", "B", ExamFormat.Letters)]   // one correct option is still the Letters task
    [InlineData("closed-ended/sci_fi.jsonl", "True [fact: False]", ExamFormat.TrueFalse)]
    [InlineData("gsm100.jsonl", "18", ExamFormat.Number)]
    [InlineData("topic_retrieval_longchat.jsonl", "The role of art in society", ExamFormat.Text)]
    [InlineData("hotpot_tpo.jsonl", "Paris", ExamFormat.Text)] // matched by the name's start, not any substring
    [InlineData("my_exam.jsonl", "B", ExamFormat.Letter)]
    [InlineData("my_exam.jsonl", "B. to earn money", ExamFormat.Letter)]
    [InlineData("my_exam.jsonl", "ACD", ExamFormat.Letters)]
    [InlineData("my_exam.jsonl", "False [fact: True]", ExamFormat.TrueFalse)]
    [InlineData("my_exam.jsonl", "1,250", ExamFormat.Number)]
    [InlineData("my_exam.jsonl", "-3.5", ExamFormat.Number)]
    [InlineData("my_exam.jsonl", "Alice", ExamFormat.Text)]
    [InlineData("my_exam.jsonl", "ABBA", ExamFormat.Text)]
    public void Format_from_the_file_name_else_from_the_reference(string file, string reference, ExamFormat format) =>
        Assert.Equal(format, ExamAnswer.FormatFor(file, reference));

    [Theory]
    [InlineData(ExamFormat.Letter, "none")]
    [InlineData(ExamFormat.Letters, "")]
    [InlineData(ExamFormat.TrueFalse, "maybe [fact: True]")]
    [InlineData(ExamFormat.Number, "many")]
    [InlineData(ExamFormat.Text, "  ")]
    public void A_reference_that_cannot_be_read_is_a_format_error(ExamFormat format, string reference) =>
        Assert.Throws<FormatException>(() => ExamAnswer.Score(format, "A", reference));
}
