using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// tests/CrashHost run as a separate process: the engine on a SQLite outbox, fed sign-outs over standard input, and
/// killed with SIGKILL (<see cref="Process.Kill(bool)"/>) rather than stopped.
/// </summary>
internal sealed class CrashHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _errors = new();

    private CrashHostProcess(Process process) => _process = process;

    /// <summary>Starts the host on <paramref name="database"/> under <paramref name="instanceName"/>; returns once its dispatcher runs.</summary>
    public static async Task<CrashHostProcess> StartAsync(string database, string instanceName, IEnumerable<(string ClientId, Uri Endpoint)> clients)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(HostPath());
        info.ArgumentList.Add("--db");
        info.ArgumentList.Add(database);
        info.ArgumentList.Add("--instance");
        info.ArgumentList.Add(instanceName);
        foreach (var (clientId, endpoint) in clients)
        {
            info.ArgumentList.Add("--client");
            info.ArgumentList.Add($"{clientId}={endpoint}");
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        var host = new CrashHostProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                host._lines.Writer.TryWrite(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (host._errors)
            {
                host._errors.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await host.ExpectAsync("ready");
        return host;
    }

    public int ProcessId => _process.Id;

    /// <summary>Stores one sign-out of <paramref name="sessionId"/> for <paramref name="clientId"/>; returns once it is in the outbox.</summary>
    public async Task RevokeAsync(string sessionId, string clientId)
    {
        await _process.StandardInput.WriteLineAsync($"revoke {sessionId} {clientId}");
        await _process.StandardInput.FlushAsync();
        await ExpectAsync($"stored {sessionId}");
    }

    /// <summary>SIGKILL: no graceful stop, no lease handed back, no outcome written.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    private async Task ExpectAsync(string expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (await _lines.Reader.ReadAsync(timeout.Token) is var line && line != expected)
            {
            }
        }
        catch (OperationCanceledException)
        {
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString();
            }

            Assert.Fail($"The crash host did not say '{expected}' (exited: {_process.HasExited}). Its standard error:{Environment.NewLine}{errors}");
        }
    }

    /// <summary>tests/CrashHost's build output, next to this test project's: same configuration and framework.</summary>
    private static string HostPath()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var configuration = output.Parent!;
        var tests = configuration.Parent!.Parent!.Parent!;
        var path = Path.Combine(tests.FullName, "CrashHost", "bin", configuration.Name, output.Name, "AutoSignOut.CrashHost.dll");
        if (!File.Exists(path))
        {
            Assert.Inconclusive($"The crash host is not built at {path}.");
        }

        return path;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
