using Elongate.Cli;

return ElongateCli.Build().Parse(args).Invoke();
