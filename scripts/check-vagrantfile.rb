# check-vagrantfile.rb - evaluate the Vagrantfile against a recording stand-in for Vagrant (VirtualBox cannot run on
# our machines) and print what it would build, as JSON: each VM's name, hostname, private IP and provisioners.
# The test suite runs it (cli: VagrantfileTest) after `ruby -c`.  Usage: ruby scripts/check-vagrantfile.rb [Vagrantfile]
require "json"

# Records every setting; `define NAME do |m| ... end` records a machine and runs its block on a fresh recorder.
class Recorder
  attr_reader :calls, :machines

  def initialize
    @calls = []
    @machines = {}
    @children = Hash.new { |h, k| h[k] = Recorder.new }
  end

  def define(name, *_opts)
    machine = Recorder.new
    yield machine if block_given?
    @machines[name.to_s] = machine
  end

  def method_missing(name, *args, **kwargs, &block)
    if name.to_s.end_with?("=")
      @calls << [name.to_s.chomp("="), args.first]
      return args.first
    end
    if args.empty? && kwargs.empty? && block.nil?
      return @children[name]
    end
    @calls << [name.to_s, args, kwargs.transform_keys(&:to_s)]
    block&.call(@children[name])
    nil
  end

  def respond_to_missing?(*)
    true
  end

  def child(name)
    @children[name]
  end
end

module Vagrant
  ROOT = Recorder.new
  def self.configure(version)
    raise "Vagrant.configure(\"2\") expected, got #{version.inspect}" unless version.to_s == "2"
    yield ROOT
  end
end

file = File.expand_path(ARGV[0] || File.join(__dir__, "..", "Vagrantfile"))
Dir.chdir(File.dirname(file)) { eval(File.read(file), binding, file) } # rubocop:disable Security/Eval

vm = Vagrant::ROOT.child(:vm)
out = {
  "box" => vm.calls.find { |c| c[0] == "box" }&.last,
  "machines" => vm.machines.map do |name, m|
    mvm = m.child(:vm)
    {
      "name" => name,
      "hostname" => mvm.calls.find { |c| c[0] == "hostname" }&.last,
      "ips" => mvm.calls.select { |c| c[0] == "network" && c[1][0] == "private_network" }.map { |c| c[2]["ip"] },
      "provisioners" => mvm.calls.select { |c| c[0] == "provision" }.map { |c| { "type" => c[1][0] }.merge(c[2]) }
    }
  end
}
puts JSON.generate(out)
