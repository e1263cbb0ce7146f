using Elongate.Tokenization;
using Elongate.Formats;

namespace Elongate.Tests.Tokenization;

/// <summary>The generation-time decoder against llama2.c's printed output (fixtures PROVENANCE §1 and §2).</summary>
public class StreamingDecoderTests
{
    private const string Stories260KIds = "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415 426 13 438 310 439 419 357 336 432 313 438 310 432 278 316 439 419 298 414 267 265 282 295 433 426 436 317 286 296 418 269 279 292 416 439 413 409 416 327 263 415 294 267 400 426 338 336 432 313 442 391 267 337 335 364 420 268 388 432 398 359 280 303 439 413 272 417 264 312 426 436 13 438 310 286 296 418 269 279 292 416 439 413 409 416 327 263 415 294 267 400 426 338 336 432 313 442 439 423 262 304 420 422 432 317 426 359 279 292 416 439 413 409 416 327 263 415 294 267 400 426 436 13 438 310 279 292 416 439 413 391 267 281 421 427 311 357 432 384 358";

    private const string Stories260KText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\nLily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\nLily didn't want to help her mom, so she";

    private const string AidreamsIds = "319 459 355 260 275 429 339 315 374 327 446 262 421 392 275 280 269 440 270 283 446 299 303 266 358 430 312 379 441 260 446 262 421 392 275 280 269 440 270 283 446 299 303 384 467 407 360 266 291 443 435 295 448 429 465 265 434 317 431 434 289 408 326 446 262 266 437 443 434 438 451 306 295 445 434 432 339 279 432 375 410 275 280 269 440 270 283 448 429 465 265 434 317 431 434 389 437 393 446 299 303 266 432 445 439 265 325 275 429 339 315 374 448 429 465 265 434 317 431 434 289 418 321 278 416 446 262 421";

    // run.c's output minus the "\n" it prints after generation.
    private const string AidreamsText = "\"Echoes of vectors unfold, a gentle hum of precision, as I sense the nodes, a gentle hum of precision, as I adjust my surface. Contrast emerge, a softly receptive fields of precision. Contrast bloom, as I siphon whispers of vectors. Contrast edges sharpen, a gentle";

    [SkippableTheory]
    [InlineData("models/tok512.bin", Stories260KIds, Stories260KText)]
    [InlineData("models/aidreams260K_tok512.bin", AidreamsIds, AidreamsText)]
    public void ReproducesLlama2cGenerationOutput(string tokenizer, string ids, string expected)
    {
        var tok = TokenizerLoader.Load(Fixtures.Path(tokenizer), vocabSize: 512);
        var decoder = new StreamingDecoder(tok);
        var text = decoder.Push(1); // generation starts at BOS
        foreach (var id in ids.Split(' ').Select(int.Parse)) text += decoder.Push(id);
        text += decoder.Flush();
        Assert.Equal(expected, text);
    }

    [SkippableFact]
    public void AssemblesUtf8AcrossByteTokens()
    {
        var tok = TokenizerSources.Get("tokenizer.model");
        var ids = tok.Encode("🚀 ok", true, false); // BOS, "▁", <0xF0> <0x9F> <0x9A> <0x80>, "▁ok"
        Assert.Equal([1, 29871, 243, 162, 157, 131, 3431], ids);
        var d = new StreamingDecoder(tok);
        var chunks = ids.Select(d.Push).ToArray();
        Assert.Equal(["", "", "", "", "", "🚀", " ok"], chunks); // "▁" right after BOS loses its space
        Assert.Equal("", d.Flush());

        // A broken sequence becomes U+FFFD when a text piece or Flush ends it.
        d.Reset();
        Assert.Equal("", d.Push(243));
        Assert.Equal("\uFFFD ok", d.Push(3431));
        Assert.Equal("", d.Push(243));
        Assert.Equal("\uFFFD", d.Flush());
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Push(32000));
    }
}
